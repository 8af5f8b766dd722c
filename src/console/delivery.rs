//! What a text we sent has become, from Twilio's `MessageStatus` values ("Outbound Message
//! Status in Status Callbacks"): statuses only move forward, so a callback that arrives late
//! cannot undo a final status (queued < sending < sent < delivered | undelivered | failed).

/// A delivery status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted by Twilio, waiting to go out (`queued`, `accepted`, `scheduled`).
    Queued,
    /// Being handed to the carrier.
    Sending,
    /// Handed to the carrier.
    Sent,
    /// The carrier confirmed delivery.
    Delivered,
    /// The carrier could not deliver it.
    Undelivered,
    /// It could not be sent.
    Failed,
}

impl Status {
    /// Reads Twilio's `MessageStatus`; `None` for a value that is not a delivery status.
    pub fn parse(twilio: &str) -> Option<Status> {
        Some(match twilio {
            "queued" | "accepted" | "scheduled" => Status::Queued,
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "delivered" | "read" => Status::Delivered,
            "undelivered" => Status::Undelivered,
            "failed" | "canceled" => Status::Failed,
            _ => return None,
        })
    }

    /// The name shown and stored.
    pub fn name(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Undelivered => "undelivered",
            Status::Failed => "failed",
        }
    }

    fn is_final(self) -> bool {
        self >= Status::Delivered
    }

    /// The status after `next` arrives: later steps replace earlier ones, a final status
    /// stays.
    pub fn then(self, next: Status) -> Status {
        if self.is_final() || next <= self {
            self
        } else {
            next
        }
    }
}

/// A text's current status and the error code that came with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// The status.
    pub status: Status,
    /// Twilio's error code of an undelivered or failed text.
    pub error_code: Option<String>,
}

/// Folds the statuses of one text in the order they arrived.
pub fn fold<'a>(updates: impl IntoIterator<Item = (Status, Option<&'a str>)>) -> Option<Delivery> {
    let mut current: Option<Delivery> = None;
    for (status, code) in updates {
        let now = current.as_ref().map_or(status, |d| d.status.then(status));
        if current.as_ref().is_none_or(|d| d.status != now) {
            current = Some(Delivery {
                status: now,
                error_code: code.map(str::to_string),
            });
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        let d = fold([
            (Status::Queued, None),
            (Status::Delivered, None),
            (Status::Sent, None),
            (Status::Failed, Some("30007")),
        ])
        .expect("a status");
        assert_eq!(d.status, Status::Delivered);
        assert_eq!(d.error_code, None);
        let d =
            fold([(Status::Queued, None), (Status::Undelivered, Some("30003"))]).expect("a status");
        assert_eq!(
            (d.status, d.error_code.as_deref()),
            (Status::Undelivered, Some("30003"))
        );
        assert_eq!(fold([]), None);
        assert_eq!(Status::parse("received"), None);
        assert_eq!(Status::parse("accepted"), Some(Status::Queued));
    }
}
