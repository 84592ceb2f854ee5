//! [`Handler`]: the user's code for everything in a notification that is not media.

use wa_media_types::webhook::Notification;

/// The error a [`Handler`] returns.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Receives each notification that holds something besides media: text messages, statuses,
/// other changes. Media messages in it have already been spooled and need nothing.
///
/// Returning an error makes the service answer 500, so Meta delivers the notification again
/// (with decreasing frequency, for up to 7 days): your processing gets Meta's at-least-once
/// guarantee. Make it idempotent by message id. The media of a redelivery are not spooled
/// again.
///
/// Any `Fn(&Notification) -> Result<(), HandlerError>` closure is a handler.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Processes one notification.
    async fn handle(&self, notification: &Notification) -> Result<(), HandlerError>;
}

#[async_trait::async_trait]
impl<F> Handler for F
where
    F: Fn(&Notification) -> Result<(), HandlerError> + Send + Sync + 'static,
{
    async fn handle(&self, notification: &Notification) -> Result<(), HandlerError> {
        self(notification)
    }
}
