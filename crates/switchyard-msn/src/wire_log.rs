//! Command lines as the debug log shows them: what each client sent and was answered, with the
//! secrets on the line masked (MD5 answers, Passport tickets, switchboard cookies).

use msnp::Frame;

const MASK: &str = "***";

/// A client's command as it arrived (its payload counted, not shown).
pub(crate) fn command(frame: &Frame) -> String {
    let mut words: Vec<&str> = Vec::with_capacity(frame.params.len() + 1);
    words.push(frame.verb.as_str());
    words.extend(frame.params.iter().map(String::as_str));
    masked(words)
}

/// The first line of what was written for one reply.
pub(crate) fn reply(bytes: &[u8]) -> String {
    let line = bytes.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    masked(String::from_utf8_lossy(line).split(' ').collect())
}

fn masked(mut words: Vec<&str>) -> String {
    match words.as_slice() {
        // `USR trid MD5 S answer`, `USR trid TWN S ticket` (and the server's challenges).
        ["USR", _, _, "S", ..] => words[4..].iter_mut().for_each(|w| *w = MASK),
        // A switchboard login: `USR trid handle cookie`.
        ["USR", _, handle, _] if handle.contains('@') => words[3] = MASK,
        // `ANS trid handle cookie session`.
        ["ANS", _, _, _, ..] => words[3] = MASK,
        _ => {}
    }
    // `XFR trid SB address CKI cookie`, `RNG session address CKI cookie …`.
    if let Some(at) = words.iter().position(|w| *w == "CKI") {
        if let Some(cookie) = words.get_mut(at + 1) {
            *cookie = MASK;
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_is_shown() {
        let shown = |line: &str| reply(line.as_bytes());
        assert_eq!(shown("USR 4 TWN S t=abc&p=def\r\n"), "USR 4 TWN S ***");
        assert_eq!(shown("USR 3 MD5 S 0123456789abcdef"), "USR 3 MD5 S ***");
        assert_eq!(shown("USR 3 TWN I alice@hotmail.com"), "USR 3 TWN I alice@hotmail.com");
        assert_eq!(shown("USR 1 alice@hotmail.com 625632187.nxONU3"), "USR 1 alice@hotmail.com ***");
        assert_eq!(shown("USR 1 OK alice@hotmail.com Alice"), "USR 1 OK alice@hotmail.com Alice");
        assert_eq!(shown("ANS 1 alice@hotmail.com 800503829.NrnS 13487934"), "ANS 1 alice@hotmail.com *** 13487934");
        assert_eq!(shown("XFR 19 SB 127.0.0.1:18631 CKI 625632187.nxON"), "XFR 19 SB 127.0.0.1:18631 CKI ***");
        assert_eq!(
            shown("RNG 1 127.0.0.1:1 CKI 8005.Nrn carol@hotmail.com Carol\r\nMIME"),
            "RNG 1 127.0.0.1:1 CKI *** carol@hotmail.com Carol"
        );
        assert_eq!(shown("CHG 6 NLN 1342472228"), "CHG 6 NLN 1342472228");
    }
}
