//! The cloud's vocabulary: service, business and connection states as enums, each with one wire
//! mapping, so decisions match on types instead of comparing strings in many places. Unknown values
//! (Alibaba adds states over time) are kept, and treated as "not settled".

use std::fmt;

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant,)+
            /// A value this operator does not know.
            Other(String),
        }

        impl $name {
            /// Parse the wire value (case-sensitive, as Alibaba sends it).
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                }
            }
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// `ServiceStatus` of an endpoint service.
    ServiceStatus { Creating = "Creating", Pending = "Pending", Active = "Active", Deleting = "Deleting" }
);

/// `EndpointStatus` of an endpoint: the same values as a service's.
pub type EndpointStatus = ServiceStatus;

vocabulary!(
    /// `ServiceBusinessStatus` of an endpoint service.
    BusinessStatus { Normal = "Normal", FinancialLocked = "FinancialLocked" }
);

vocabulary!(
    /// `ConnectionStatus` of an endpoint connection.
    ConnectionStatus {
        Pending = "Pending",
        Connecting = "Connecting",
        Connected = "Connected",
        Disconnecting = "Disconnecting",
        Disconnected = "Disconnected",
        Deleting = "Deleting",
        ServiceDeleted = "ServiceDeleted",
    }
);

impl ConnectionStatus {
    /// Whether a consumer may have traffic on it (or is about to): everything but `Disconnected`,
    /// and the states in which the consumer side is already gone.
    pub fn is_live(&self) -> bool {
        !matches!(self, Self::Disconnected | Self::ServiceDeleted | Self::Deleting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_and_unknown_values() {
        for s in ["Creating", "Pending", "Active", "Deleting", "Inactive"] {
            assert_eq!(ServiceStatus::parse(s).as_str(), s);
        }
        assert_eq!(ServiceStatus::parse("Inactive"), ServiceStatus::Other("Inactive".into()));
        assert_eq!(BusinessStatus::parse("FinancialLocked"), BusinessStatus::FinancialLocked);
        let live: Vec<bool> = [
            "Pending",
            "Connecting",
            "Connected",
            "Disconnecting",
            "Disconnected",
            "Deleting",
            "ServiceDeleted",
            "Migrating",
        ]
        .iter()
        .map(|s| ConnectionStatus::parse(s).is_live())
        .collect();
        assert_eq!(live, [true, true, true, true, false, false, false, true]);
    }
}
