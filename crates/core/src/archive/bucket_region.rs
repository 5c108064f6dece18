//! The archive bucket's Region, as S3 reveals it when a request was signed for another
//! one. The SDK does not follow S3's cross-Region redirects, so the run fails; what
//! matters is that the failure says which setting fixes it.

/// The operator's fix when S3 refused a request because the bucket lives in another
/// Region than the one the request was signed for. `header_region` is S3's
/// `x-amz-bucket-region` answer header (sent with `PermanentRedirect` and
/// `AuthorizationHeaderMalformed`); `body` is the error document, whose `<Region>`
/// element carries the same fact when the header is missing.
pub fn wrong_region_hint(signed_for: &str, header_region: Option<&str>, body: &str) -> Option<String> {
    let bucket_region = header_region.map(str::trim).filter(|r| !r.is_empty()).or_else(|| element(body, "Region"))?;
    (bucket_region != signed_for).then(|| {
        format!(
            "the archive bucket is in {bucket_region}, not {signed_for}; set ARCHIVE_BUCKET_REGION={bucket_region} \
             (template parameter ArchiveBucketRegion)"
        )
    })
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..end].trim()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access \
        must be addressed using the specified endpoint.</Message><Endpoint>s3.eu-west-1.amazonaws.com</Endpoint>\
        <Bucket>org-archive</Bucket></Error>";
    const MALFORMED: &str = "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is \
        malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>";

    #[test]
    fn the_bucket_region_comes_from_the_header_or_the_error_document() {
        let fix = "the archive bucket is in eu-west-1, not us-east-1; set ARCHIVE_BUCKET_REGION=eu-west-1 \
                   (template parameter ArchiveBucketRegion)";
        assert_eq!(wrong_region_hint("us-east-1", Some("eu-west-1"), REDIRECT).as_deref(), Some(fix));
        assert_eq!(wrong_region_hint("us-east-1", None, MALFORMED).as_deref(), Some(fix));
        assert_eq!(wrong_region_hint("us-east-1", Some(" "), MALFORMED).as_deref(), Some(fix));
    }

    #[test]
    fn no_hint_without_a_region_or_when_it_is_the_signed_one() {
        assert_eq!(wrong_region_hint("us-east-1", None, REDIRECT), None);
        assert_eq!(wrong_region_hint("eu-west-1", Some("eu-west-1"), REDIRECT), None);
        assert_eq!(wrong_region_hint("us-east-1", None, "<Error><Region></Region></Error>"), None);
        assert_eq!(wrong_region_hint("us-east-1", None, ""), None);
    }
}
