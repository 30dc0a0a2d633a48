//! Rule options of DNS transactions: the `dns.query` / `dns_query` sticky
//! buffer with its transforms and `bsize`, `dns.opcode` and
//! `app-layer-event:dns.*` (see [`crate::detect::dns`]). A child of
//! `parse`: it extends the rule builder there.

use super::{bad, parse_num_test, Buf, Builder};
use crate::app::dns::DnsEvent;
use crate::detect::content::{ContentList, ItemSpec};
use crate::detect::dns::{DnsBuf, DnsList, DnsRule, Opcode};
use crate::detect::http::Transform;
use crate::detect::parse::ParseError;
use crate::detect::rule::NumTest;
use crate::packet::Direction;

/// One `dns.query` list while the rule is read.
#[derive(Debug)]
pub(super) struct ListSpec {
    buf: DnsBuf,
    transforms: Vec<Transform>,
    pub(super) items: Vec<ItemSpec>,
    bsize: Option<NumTest>,
}

/// The DNS options of a rule being read.
#[derive(Debug, Default)]
pub(super) struct DnsSpecs {
    pub(super) lists: Vec<ListSpec>,
    opcode: Option<Opcode>,
    events: Vec<DnsEvent>,
}

impl DnsSpecs {
    pub(super) fn is_empty(&self) -> bool {
        self.lists.is_empty() && self.opcode.is_none() && self.events.is_empty()
    }

    /// Builds the rule part.
    pub(super) fn build(self, flow_dir: Option<Direction>) -> Result<DnsRule, String> {
        let mut lists = Vec::with_capacity(self.lists.len());
        for l in self.lists {
            lists.push(DnsList {
                buf: l.buf,
                transforms: l.transforms,
                contents: ContentList::build_items(l.items)?,
                bsize: l.bsize,
            });
        }
        Ok(DnsRule::new(lists, self.opcode, self.events, flow_dir))
    }
}

impl Builder {
    /// Handles a DNS option; `None` when `k` is not one (or, for
    /// transforms and `bsize`, when the current buffer is not DNS's).
    pub(super) fn dns_option(
        &mut self,
        k: &str,
        v: Option<&str>,
    ) -> Option<Result<(), ParseError>> {
        let in_dns = match self.buf {
            Buf::Dns(i) => Some(i),
            _ => None,
        };
        match k {
            "dns.query" | "dns_query" | "frame" => {
                // A sticky buffer (also in its legacy spelling); of the
                // frames, DNS's message.
                let buf = match k {
                    "frame" if v.map(str::trim) == Some("dns.pdu") => DnsBuf::Pdu,
                    "frame" => return None,
                    _ => DnsBuf::Query,
                };
                self.dns.lists.push(ListSpec {
                    buf,
                    transforms: Vec::new(),
                    items: Vec::new(),
                    bsize: None,
                });
                self.buf = Buf::Dns(self.dns.lists.len() - 1);
                Some(Ok(()))
            }
            "dns.opcode" => Some((|| {
                let s = v.map(str::trim).unwrap_or("");
                let op = Opcode::parse(s).map_err(|why| bad(k, s, why))?;
                self.dns.opcode = Some(op);
                Ok(())
            })()),
            "app-layer-event" => {
                let s = v?.trim();
                let name = s.strip_prefix("dns.")?;
                Some(match DnsEvent::from_name(name) {
                    Some(e) => {
                        self.dns.events.push(e);
                        Ok(())
                    }
                    None => {
                        // As Suricata: a warning, the rule is not loaded.
                        self.unsupported(&format!("app-layer-event {s} (no such dns event)"));
                        Ok(())
                    }
                })
            }
            "bsize" => {
                let i = in_dns?;
                let s = v.map(str::trim).unwrap_or("");
                Some(
                    parse_num_test(s, u64::from(u32::MAX))
                        .map_err(|why| bad(k, s, why))
                        .map(|t| {
                            if let Some(l) = self.dns.lists.get_mut(i) {
                                l.bsize = Some(t);
                            }
                        }),
                )
            }
            _ => {
                let i = in_dns?;
                let t = Transform::from_keyword(k)?;
                if let Some(l) = self.dns.lists.get_mut(i) {
                    l.transforms.push(t);
                }
                Some(Ok(()))
            }
        }
    }
}
