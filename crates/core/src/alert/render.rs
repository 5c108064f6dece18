//! The alert as SNS carries it: the subject, the Slack notification and the e-mail,
//! the e-mail's lists cut until the whole message fits.

use super::chat::chat;
use super::email::{email, subject};
use super::model::{Alert, AlertContext, MAX_MESSAGE_BYTES};
use crate::state::{News, Standing};

/// Renders the alert, cutting the e-mail's lists until the whole SNS message fits.
pub fn render(news: &[News], standing: &Standing, ctx: &AlertContext) -> Alert {
    let subject = subject(news, ctx);
    let chat = chat(news, standing, ctx, &subject);
    let mut max_items = news.len().max(1);
    loop {
        let alert =
            Alert { subject: subject.clone(), chat: chat.clone(), email: email(news, standing, ctx, max_items) };
        if alert.sns_message().len() <= MAX_MESSAGE_BYTES || max_items == 1 {
            return alert;
        }
        max_items = (max_items * 3 / 4).max(1);
    }
}
