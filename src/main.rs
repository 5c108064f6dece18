use std::process::ExitCode;

/// One binary, two front doors: the Lambda runtime sets `AWS_LAMBDA_RUNTIME_API`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return match ami_usage_reporter::lambda::main().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lambda runtime failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match ami_usage_reporter::cli::parse() {
        Ok(cli) => ami_usage_reporter::cli::main(cli).await,
        Err(code) => code,
    }
}
