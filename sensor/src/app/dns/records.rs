//! DNS messages: questions, resource records and their data, parsed as
//! Suricata 7 does (TXT records with several strings become one record per
//! string; answers and authorities are kept, additionals are not read).

use super::wire::{
    parse_name, parse_name_in, u16_at, u32_at, u8_at, Header, Malformed, Name, NameFlags,
};

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_NULL: u16 = 10;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_SSHFP: u16 = 44;

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub rrtype: u16,
    pub rrclass: u16,
}

/// SOA data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// SRV data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name,
}

/// SSHFP data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sshfp {
    pub algo: u8,
    pub fp_type: u8,
    pub fingerprint: Vec<u8>,
}

/// The data of a record, by type; unknown types keep their bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// A and AAAA: the address bytes as sent (any length).
    Addr(Vec<u8>),
    /// CNAME, NS, PTR, MX (the preference is not kept).
    Name(Name),
    /// One TXT string, or NULL data.
    Text(Vec<u8>),
    Soa(Box<Soa>),
    Srv(Box<Srv>),
    Sshfp(Sshfp),
    Unknown(Vec<u8>),
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rrtype: u16,
    pub rrclass: u16,
    pub ttl: u32,
    pub data: RData,
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub header: Header,
    pub queries: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
}

/// Upper bound on records kept per section (a 64 KiB message holds at most
/// this many minimal records anyway).
const MAX_RECORDS: usize = 65_535;

/// Parses a whole message: the header, the questions, and for responses
/// the answer and authority sections. `flags` gathers the names' flags.
pub fn parse_message(
    msg: &[u8],
    response: bool,
    flags: &mut NameFlags,
) -> Result<Message, Malformed> {
    let header = Header::parse(msg).ok_or(Malformed)?;
    let mut pos = super::wire::HEADER_LEN;
    let mut queries = Vec::new();
    for _ in 0..header.questions {
        let (q, next) = parse_question(msg, pos, flags)?;
        queries.push(q);
        pos = next;
    }
    let mut m = Message {
        header,
        queries,
        ..Message::default()
    };
    if response {
        pos = parse_records(msg, pos, header.answers, &mut m.answers, flags)?;
        parse_records(msg, pos, header.authorities, &mut m.authorities, flags)?;
    }
    Ok(m)
}

fn parse_question(
    msg: &[u8],
    at: usize,
    flags: &mut NameFlags,
) -> Result<(Question, usize), Malformed> {
    let (name, pos) = parse_name(msg, at, flags)?;
    let rrtype = u16_at(msg, pos).ok_or(Malformed)?;
    let rrclass = u16_at(msg, pos + 2).ok_or(Malformed)?;
    Ok((
        Question {
            name,
            rrtype,
            rrclass,
        },
        pos + 4,
    ))
}

/// Parses `count` records from `at` into `out`; returns the offset after
/// them.
fn parse_records(
    msg: &[u8],
    mut at: usize,
    count: u16,
    out: &mut Vec<Record>,
    flags: &mut NameFlags,
) -> Result<usize, Malformed> {
    for _ in 0..count {
        let (name, pos) = parse_name(msg, at, flags)?;
        let rrtype = u16_at(msg, pos).ok_or(Malformed)?;
        let rrclass = u16_at(msg, pos + 2).ok_or(Malformed)?;
        let ttl = u32_at(msg, pos + 4).ok_or(Malformed)?;
        let rdlen = usize::from(u16_at(msg, pos + 8).ok_or(Malformed)?);
        let from = pos + 10;
        let to = from + rdlen;
        let data = msg.get(from..to).ok_or(Malformed)?;
        let mut push = |d: RData| {
            if out.len() < MAX_RECORDS {
                out.push(Record {
                    name: name.clone(),
                    rrtype,
                    rrclass,
                    ttl,
                    data: d,
                });
            }
        };
        if rrtype == TYPE_TXT {
            // One record per string; at least one string.
            let mut i = 0usize;
            let mut n = 0usize;
            while i < data.len() || n == 0 {
                let len = usize::from(u8_at(data, i).ok_or(Malformed)?);
                let s = data.get(i + 1..i + 1 + len).ok_or(Malformed)?;
                push(RData::Text(s.to_vec()));
                i += 1 + len;
                n += 1;
            }
        } else {
            push(parse_rdata(msg, from, to, rrtype, flags)?);
        }
        at = to;
    }
    Ok(at)
}

/// The data of a record of type `rrtype` at `msg[from..to]` (names in it
/// may point anywhere in the message).
fn parse_rdata(
    msg: &[u8],
    from: usize,
    to: usize,
    rrtype: u16,
    flags: &mut NameFlags,
) -> Result<RData, Malformed> {
    let data = msg.get(from..to).ok_or(Malformed)?;
    Ok(match rrtype {
        TYPE_A | TYPE_AAAA => RData::Addr(data.to_vec()),
        TYPE_CNAME | TYPE_NS | TYPE_PTR => RData::Name(parse_name_in(msg, from, to, flags)?.0),
        TYPE_MX => {
            if data.len() < 2 {
                return Err(Malformed);
            }
            RData::Name(parse_name_in(msg, from + 2, to, flags)?.0)
        }
        TYPE_SOA => {
            let (mname, p) = parse_name_in(msg, from, to, flags)?;
            let (rname, p) = parse_name_in(msg, p, to, flags)?;
            let bounded = msg.get(..to).unwrap_or(msg);
            let n = |i: usize| u32_at(bounded, p + 4 * i).ok_or(Malformed);
            RData::Soa(Box::new(Soa {
                mname,
                rname,
                serial: n(0)?,
                refresh: n(1)?,
                retry: n(2)?,
                expire: n(3)?,
                minimum: n(4)?,
            }))
        }
        TYPE_SRV => {
            let n = |i: usize| u16_at(data, 2 * i).ok_or(Malformed);
            let (priority, weight, port) = (n(0)?, n(1)?, n(2)?);
            let (target, _) = parse_name_in(msg, from + 6, to, flags)?;
            RData::Srv(Box::new(Srv {
                priority,
                weight,
                port,
                target,
            }))
        }
        TYPE_SSHFP => {
            let algo = u8_at(data, 0).ok_or(Malformed)?;
            let fp_type = u8_at(data, 1).ok_or(Malformed)?;
            RData::Sshfp(Sshfp {
                algo,
                fp_type,
                fingerprint: data.get(2..).unwrap_or(&[]).to_vec(),
            })
        }
        TYPE_NULL => RData::Text(data.to_vec()),
        _ => RData::Unknown(data.to_vec()),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response for `name` with the given answer records
    /// (type, rdata) — rdata written as given.
    pub(crate) fn response(id: u16, name: &str, answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&0x8180u16.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        push_name(&mut m, name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        for (t, data) in answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(data);
        }
        m
    }

    pub(crate) fn push_name(m: &mut Vec<u8>, name: &str) {
        for l in name.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
    }

    /// A query for `name` of type `t`.
    pub(crate) fn query(id: u16, name: &str, t: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        push_name(&mut m, name);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    #[test]
    fn query_and_answers() {
        let q = query(7, "example.com", TYPE_AAAA);
        let m = parse_message(&q, false, &mut NameFlags::default()).unwrap();
        assert_eq!(m.header.id, 7);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name.value, b"example.com");
        assert_eq!(m.queries[0].rrtype, TYPE_AAAA);

        let r = response(
            7,
            "example.com",
            &[
                (TYPE_A, vec![192, 0, 2, 1]),
                (TYPE_CNAME, vec![0xc0, 12]),
                (TYPE_MX, vec![0, 10, 0xc0, 12]),
                (TYPE_TXT, b"\x02ab\x00\x01c".to_vec()),
                (99, vec![1, 2, 3]),
            ],
        );
        let m = parse_message(&r, true, &mut NameFlags::default()).unwrap();
        assert_eq!(m.answers.len(), 7);
        assert_eq!(m.answers[0].data, RData::Addr(vec![192, 0, 2, 1]));
        let RData::Name(n) = &m.answers[1].data else {
            panic!()
        };
        assert_eq!(n.value, b"example.com");
        assert!(matches!(&m.answers[2].data, RData::Name(n) if n.value == b"example.com"));
        assert_eq!(m.answers[3].data, RData::Text(b"ab".to_vec()));
        assert_eq!(m.answers[4].data, RData::Text(Vec::new()));
        assert_eq!(m.answers[5].data, RData::Text(b"c".to_vec()));
        assert_eq!(m.answers[6].data, RData::Unknown(vec![1, 2, 3]));
        assert_eq!(m.answers[6].ttl, 60);
    }

    #[test]
    fn soa_srv_sshfp() {
        let mut soa = Vec::new();
        push_name(&mut soa, "ns.example.com");
        soa.extend_from_slice(&[0xc0, 12]);
        for v in [1u32, 2, 3, 4, 5] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        let mut srv = vec![0, 1, 0, 2, 0x13, 0xc4];
        push_name(&mut srv, "sip.example.com");
        let r = response(
            1,
            "example.com",
            &[
                (TYPE_SOA, soa),
                (TYPE_SRV, srv),
                (TYPE_SSHFP, vec![1, 2, 0xab, 0xcd]),
            ],
        );
        let m = parse_message(&r, true, &mut NameFlags::default()).unwrap();
        let RData::Soa(s) = &m.answers[0].data else {
            panic!()
        };
        assert_eq!(s.mname.value, b"ns.example.com");
        assert_eq!(s.rname.value, b"example.com");
        assert_eq!((s.serial, s.minimum), (1, 5));
        let RData::Srv(s) = &m.answers[1].data else {
            panic!()
        };
        assert_eq!((s.priority, s.weight, s.port), (1, 2, 5060));
        assert_eq!(s.target.value, b"sip.example.com");
        assert_eq!(
            m.answers[2].data,
            RData::Sshfp(Sshfp {
                algo: 1,
                fp_type: 2,
                fingerprint: vec![0xab, 0xcd]
            })
        );
    }

    #[test]
    fn truncated_messages_fail_at_every_cut() {
        let r = response(
            1,
            "a.example.com",
            &[(TYPE_A, vec![1, 2, 3, 4]), (TYPE_TXT, b"\x03abc".to_vec())],
        );
        assert!(parse_message(&r, true, &mut NameFlags::default()).is_ok());
        for cut in 0..r.len() {
            assert_eq!(
                parse_message(&r[..cut], true, &mut NameFlags::default()),
                Err(Malformed),
                "cut at {cut}"
            );
        }
        // A TXT string longer than its record.
        let r = response(1, "a", &[(TYPE_TXT, b"\x05ab".to_vec())]);
        assert!(parse_message(&r, true, &mut NameFlags::default()).is_err());
        // An empty TXT record: malformed (no string at all).
        let r = response(1, "a", &[(TYPE_TXT, Vec::new())]);
        assert!(parse_message(&r, true, &mut NameFlags::default()).is_err());
    }
}
