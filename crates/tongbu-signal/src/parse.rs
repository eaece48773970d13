//! Strict parsing of client messages into precise errors.

use crate::message::{ClientMessage, ErrorCode};

/// Why a client message was refused. The connection stays open; the client gets an `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message is not a JSON object: {0}")]
    MalformedJson(String),
    #[error("message has no string field \"type\"; every message is {{\"type\": \"...\", ...}}")]
    MissingType,
    #[error("unknown message type \"{0}\"; known types: {known}", known = ClientMessage::TYPES.join(", "))]
    UnknownType(String),
    #[error("invalid \"{kind}\" message: {detail}")]
    Invalid { kind: String, detail: String },
}

impl ProtocolError {
    /// The wire error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::MalformedJson(_) => ErrorCode::MalformedJson,
            ProtocolError::MissingType | ProtocolError::UnknownType(_) => ErrorCode::UnknownType,
            ProtocolError::Invalid { .. } => ErrorCode::InvalidMessage,
        }
    }
}

/// Parses one text frame from a client.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ProtocolError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ProtocolError::MalformedJson(e.to_string()))?;
    let serde_json::Value::Object(map) = &value else {
        return Err(ProtocolError::MalformedJson(
            "expected an object like {\"type\": \"join\", \"version\": 1}".into(),
        ));
    };
    let kind = match map.get("type") {
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => return Err(ProtocolError::MissingType),
    };
    if !ClientMessage::TYPES.contains(&kind.as_str()) {
        return Err(ProtocolError::UnknownType(kind));
    }
    serde_json::from_value(value).map_err(|e| ProtocolError::Invalid {
        kind,
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransportKind;

    #[test]
    fn parses_known_messages() {
        assert_eq!(
            parse_client_message(r#"{"type":"join","version":1}"#),
            Ok(ClientMessage::Join { version: 1 })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"offer","transport":"send","sdp":"v=0"}"#),
            Ok(ClientMessage::Offer {
                transport: TransportKind::Send,
                sdp: "v=0".into(),
                screen: None,
            })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"offer","transport":"send","sdp":"v=0","screen":"2"}"#),
            Ok(ClientMessage::Offer {
                transport: TransportKind::Send,
                sdp: "v=0".into(),
                screen: Some("2".into()),
            })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"grant_floor","participant":4,"granted":true}"#),
            Ok(ClientMessage::GrantFloor {
                participant: 4,
                granted: true
            })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"end"}"#),
            Ok(ClientMessage::End)
        );
        assert_eq!(
            parse_client_message(r#"{"type":"spotlight","participant":null}"#),
            Ok(ClientMessage::Spotlight { participant: None })
        );
    }

    #[test]
    fn each_kind_of_bad_input_has_its_own_code() {
        let code = |t: &str| parse_client_message(t).unwrap_err().code();
        assert_eq!(code("not json"), ErrorCode::MalformedJson);
        assert_eq!(code("[1,2]"), ErrorCode::MalformedJson);
        assert_eq!(code(r#"{"version":1}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"chat"}"#), ErrorCode::InvalidMessage);
        assert_eq!(
            code(r#"{"type":"join","version":"one"}"#),
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn messages_name_what_is_wrong() {
        let e = parse_client_message(r#"{"type":"chat"}"#).unwrap_err();
        assert!(e.to_string().contains("text"), "{e}");
        let e = parse_client_message(r#"{"type":"dance"}"#).unwrap_err();
        assert!(
            e.to_string().contains("dance") && e.to_string().contains("join"),
            "{e}"
        );
    }
}
