//! Which peer connection a datagram on the shared media port belongs to: a STUN binding
//! request names it by the server's ICE username fragment; everything after that (DTLS,
//! SRTP) is known by the remote address that request came from.

use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::message::Message;
use rtc::stun::textattrs::TextAttribute;

/// The STUN magic cookie (RFC 5389), at bytes 4..8 of every STUN message.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// Is this datagram a STUN message (RFC 7983: first byte 0..=3 and the magic cookie)?
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= 20 && data[0] < 4 && data[4..8] == MAGIC_COOKIE
}

/// The server's (local) ufrag from a STUN request's `USERNAME` (`<local>:<remote>`).
pub fn local_ufrag(data: &[u8]) -> Option<String> {
    let mut message = Message::new();
    message.unmarshal_binary(data).ok()?;
    let username = TextAttribute::get_from_as(&message, ATTR_USERNAME).ok()?;
    let text = username.text;
    let local = text.split(':').next()?;
    (!local.is_empty()).then(|| local.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::stun::message::{BINDING_REQUEST, TransactionId};

    #[test]
    fn binding_requests_name_the_local_ufrag() {
        let mut m = Message::new();
        m.build(&[
            Box::new(BINDING_REQUEST),
            Box::new(TransactionId::new()),
            Box::new(TextAttribute::new(ATTR_USERNAME, "server:client".into())),
        ])
        .expect("build");
        assert!(is_stun(&m.raw));
        assert_eq!(local_ufrag(&m.raw).as_deref(), Some("server"));
    }

    #[test]
    fn other_datagrams_are_not_stun() {
        assert!(!is_stun(&[0x80; 40]));
        assert!(!is_stun(&[22; 40]));
        assert!(!is_stun(&[0; 10]));
        assert_eq!(local_ufrag(&[0u8; 20]), None);
    }
}
