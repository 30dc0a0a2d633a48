//! Decoder anomalies: the one list of them ([`super::ERROR_KINDS`], built
//! here), their Suricata names (`decoder.<layer>.<name>`, the `decode-event`
//! keyword's `<layer>.<name>`, `stats.decoder.event.<layer>.<name>`), the
//! fixed-size set a packet carries, and the per-layer packet counters
//! (`stats.decoder.ethernet`, `vlan`, `gre`, ...).

use super::ErrorKind;

const fn kind(layer: &'static str, name: &'static str, reason: &'static str) -> ErrorKind {
    ErrorKind {
        reason,
        suricata: if layer.is_empty() {
            None
        } else {
            Some((layer, name))
        },
    }
}

macro_rules! events {
    ($($v:ident = $layer:literal $name:literal;)*) => {
        /// One decoder anomaly; its discriminant is its index in
        /// [`ERROR_KINDS`](super::ERROR_KINDS).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[allow(non_camel_case_types)]
        pub enum Ev { $($v,)* }

        /// Every anomaly, in [`Ev`] order.
        pub const KINDS: [ErrorKind; [$(Ev::$v),*].len()] = [
            $(kind($layer, $name, if $layer.is_empty() {
                $name
            } else {
                concat!($layer, ".", $name)
            })),*
        ];

        impl Ev {
            /// Every anomaly, in order.
            pub const ALL: [Ev; [$(Ev::$v),*].len()] = [$(Ev::$v),*];
        }
    };
}

// Meerkat-only kinds have an empty layer and are written under
// `stats.capture.decoder.error_<name>`; `too_many_layers` has no layer in
// Suricata either (`stats.decoder.too_many_layers`), marked by the layer "-".
events! {
    Empty = "" "empty";
    BadLen = "" "bad_len";
    Ipv6TooManyExt = "" "ipv6_too_many_ext";
    AfpacketTruncPkt = "afpacket" "trunc_pkt";
    Ipv4PktTooSmall = "ipv4" "pkt_too_small";
    Ipv4HlenTooSmall = "ipv4" "hlen_too_small";
    Ipv4IplenSmallerThanHlen = "ipv4" "iplen_smaller_than_hlen";
    Ipv4TruncPkt = "ipv4" "trunc_pkt";
    Ipv4OptInvalid = "ipv4" "opt_invalid";
    Ipv4OptInvalidLen = "ipv4" "opt_invalid_len";
    Ipv4OptMalformed = "ipv4" "opt_malformed";
    Ipv4OptPadRequired = "ipv4" "opt_pad_required";
    Ipv4OptEolRequired = "ipv4" "opt_eol_required";
    Ipv4OptDuplicate = "ipv4" "opt_duplicate";
    Ipv4OptUnknown = "ipv4" "opt_unknown";
    Ipv4WrongIpVersion = "ipv4" "wrong_ip_version";
    Ipv4Icmpv6 = "ipv4" "icmpv6";
    Ipv4FragPktTooLarge = "ipv4" "frag_pkt_too_large";
    Ipv4FragOverlap = "ipv4" "frag_overlap";
    Ipv4FragIgnored = "ipv4" "frag_ignored";
    Icmpv4PktTooSmall = "icmpv4" "pkt_too_small";
    Icmpv4UnknownType = "icmpv4" "unknown_type";
    Icmpv4UnknownCode = "icmpv4" "unknown_code";
    Icmpv4Ipv4TruncPkt = "icmpv4" "ipv4_trunc_pkt";
    Icmpv4Ipv4UnknownVer = "icmpv4" "ipv4_unknown_ver";
    Icmpv6UnknownType = "icmpv6" "unknown_type";
    Icmpv6UnknownCode = "icmpv6" "unknown_code";
    Icmpv6PktTooSmall = "icmpv6" "pkt_too_small";
    Icmpv6Ipv6UnknownVersion = "icmpv6" "ipv6_unknown_version";
    Icmpv6Ipv6TruncPkt = "icmpv6" "ipv6_trunc_pkt";
    Icmpv6MldInvalidHl = "icmpv6" "mld_message_with_invalid_hl";
    Icmpv6UnassignedType = "icmpv6" "unassigned_type";
    Icmpv6ExperimentationType = "icmpv6" "experimentation_type";
    Ipv6PktTooSmall = "ipv6" "pkt_too_small";
    Ipv6TruncPkt = "ipv6" "trunc_pkt";
    Ipv6TruncExthdr = "ipv6" "trunc_exthdr";
    Ipv6ExthdrDuplFh = "ipv6" "exthdr_dupl_fh";
    Ipv6ExthdrUselessFh = "ipv6" "exthdr_useless_fh";
    Ipv6ExthdrDuplRh = "ipv6" "exthdr_dupl_rh";
    Ipv6ExthdrDuplHh = "ipv6" "exthdr_dupl_hh";
    Ipv6ExthdrDuplDh = "ipv6" "exthdr_dupl_dh";
    Ipv6ExthdrDuplAh = "ipv6" "exthdr_dupl_ah";
    Ipv6ExthdrDuplEh = "ipv6" "exthdr_dupl_eh";
    Ipv6ExthdrInvalidOptlen = "ipv6" "exthdr_invalid_optlen";
    Ipv6WrongIpVersion = "ipv6" "wrong_ip_version";
    Ipv6ExthdrAhResNotNull = "ipv6" "exthdr_ah_res_not_null";
    Ipv6HopoptsUnknownOpt = "ipv6" "hopopts_unknown_opt";
    Ipv6HopoptsOnlyPadding = "ipv6" "hopopts_only_padding";
    Ipv6DstoptsUnknownOpt = "ipv6" "dstopts_unknown_opt";
    Ipv6DstoptsOnlyPadding = "ipv6" "dstopts_only_padding";
    Ipv6RhType0 = "ipv6" "rh_type_0";
    Ipv6ZeroLenPadn = "ipv6" "zero_len_padn";
    Ipv6FhNonZeroReservedField = "ipv6" "fh_non_zero_reserved_field";
    Ipv6DataAfterNoneHeader = "ipv6" "data_after_none_header";
    Ipv6UnknownNextHeader = "ipv6" "unknown_next_header";
    Ipv6Icmpv4 = "ipv6" "icmpv4";
    Ipv6FragPktTooLarge = "ipv6" "frag_pkt_too_large";
    Ipv6FragOverlap = "ipv6" "frag_overlap";
    Ipv6FragInvalidLength = "ipv6" "frag_invalid_length";
    Ipv6FragIgnored = "ipv6" "frag_ignored";
    Ipv6Ipv4InIpv6TooSmall = "ipv6" "ipv4_in_ipv6_too_small";
    Ipv6Ipv4InIpv6WrongVersion = "ipv6" "ipv4_in_ipv6_wrong_version";
    Ipv6Ipv6InIpv6TooSmall = "ipv6" "ipv6_in_ipv6_too_small";
    Ipv6Ipv6InIpv6WrongVersion = "ipv6" "ipv6_in_ipv6_wrong_version";
    TcpPktTooSmall = "tcp" "pkt_too_small";
    TcpHlenTooSmall = "tcp" "hlen_too_small";
    TcpInvalidOptlen = "tcp" "invalid_optlen";
    TcpOptInvalidLen = "tcp" "opt_invalid_len";
    TcpOptDuplicate = "tcp" "opt_duplicate";
    UdpPktTooSmall = "udp" "pkt_too_small";
    UdpHlenTooSmall = "udp" "hlen_too_small";
    UdpHlenInvalid = "udp" "hlen_invalid";
    UdpLenInvalid = "udp" "len_invalid";
    SllPktTooSmall = "sll" "pkt_too_small";
    EthernetPktTooSmall = "ethernet" "pkt_too_small";
    PppPktTooSmall = "ppp" "pkt_too_small";
    PppVjuPktTooSmall = "ppp" "vju_pkt_too_small";
    PppIp4PktTooSmall = "ppp" "ip4_pkt_too_small";
    PppIp6PktTooSmall = "ppp" "ip6_pkt_too_small";
    PppWrongType = "ppp" "wrong_type";
    PppUnsupProto = "ppp" "unsup_proto";
    PppoePktTooSmall = "pppoe" "pkt_too_small";
    PppoeWrongCode = "pppoe" "wrong_code";
    PppoeMalformedTags = "pppoe" "malformed_tags";
    GrePktTooSmall = "gre" "pkt_too_small";
    GreWrongVersion = "gre" "wrong_version";
    GreVersion0Recur = "gre" "version0_recur";
    GreVersion0Flags = "gre" "version0_flags";
    GreVersion0HdrTooBig = "gre" "version0_hdr_too_big";
    GreVersion0MalformedSreHdr = "gre" "version0_malformed_sre_hdr";
    GreVersion1Chksum = "gre" "version1_chksum";
    GreVersion1Route = "gre" "version1_route";
    GreVersion1Ssr = "gre" "version1_ssr";
    GreVersion1Recur = "gre" "version1_recur";
    GreVersion1Flags = "gre" "version1_flags";
    GreVersion1NoKey = "gre" "version1_no_key";
    GreVersion1WrongProtocol = "gre" "version1_wrong_protocol";
    GreVersion1MalformedSreHdr = "gre" "version1_malformed_sre_hdr";
    GreVersion1HdrTooBig = "gre" "version1_hdr_too_big";
    VlanHeaderTooSmall = "vlan" "header_too_small";
    VlanUnknownType = "vlan" "unknown_type";
    VlanTooManyLayers = "vlan" "too_many_layers";
    Ieee8021ahHeaderTooSmall = "ieee8021ah" "header_too_small";
    VntagHeaderTooSmall = "vntag" "header_too_small";
    VntagUnknownType = "vntag" "unknown_type";
    IprawInvalidIpVersion = "ipraw" "invalid_ip_version";
    LtnullPktTooSmall = "ltnull" "pkt_too_small";
    LtnullUnsupportedType = "ltnull" "unsupported_type";
    SctpPktTooSmall = "sctp" "pkt_too_small";
    EspPktTooSmall = "esp" "pkt_too_small";
    MplsHeaderTooSmall = "mpls" "header_too_small";
    MplsPktTooSmall = "mpls" "pkt_too_small";
    MplsBadLabelRouterAlert = "mpls" "bad_label_router_alert";
    MplsBadLabelImplicitNull = "mpls" "bad_label_implicit_null";
    MplsBadLabelReserved = "mpls" "bad_label_reserved";
    MplsUnknownPayloadType = "mpls" "unknown_payload_type";
    VxlanUnknownPayloadType = "vxlan" "unknown_payload_type";
    GeneveUnknownPayloadType = "geneve" "unknown_payload_type";
    ErspanHeaderTooSmall = "erspan" "header_too_small";
    ErspanUnsupportedVersion = "erspan" "unsupported_version";
    ErspanTooManyVlanLayers = "erspan" "too_many_vlan_layers";
    DcePktTooSmall = "dce" "pkt_too_small";
    ChdlcPktTooSmall = "chdlc" "pkt_too_small";
    NshHeaderTooSmall = "nsh" "header_too_small";
    NshUnsupportedVersion = "nsh" "unsupported_version";
    NshBadHeaderLength = "nsh" "bad_header_length";
    NshReservedType = "nsh" "reserved_type";
    NshUnsupportedType = "nsh" "unsupported_type";
    NshUnknownPayload = "nsh" "unknown_payload";
    TooManyLayers = "-" "too_many_layers";
}

impl Ev {
    /// Index in [`super::ERROR_KINDS`] and the per-kind counters.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// `decoder.ipv6.frag_overlap`-style name without the `decoder.`
    /// prefix (`ipv6.frag_overlap`), as the `decode-event` keyword and
    /// logs write it.
    pub fn name(self) -> &'static str {
        match KINDS[self.index()] {
            ErrorKind {
                suricata: Some(("-", n)),
                ..
            } => n,
            k => k.reason,
        }
    }

    /// Looks up a `decode-event` value: `ipv6.frag_overlap`, also with a
    /// `decoder.` prefix; `too_many_layers` alone.
    pub fn by_name(s: &str) -> Option<Ev> {
        let s = s.trim();
        let s = s.strip_prefix("decoder.").unwrap_or(s);
        Ev::ALL.iter().copied().find(|e| {
            let k = KINDS[e.index()];
            match k.suricata {
                Some(("-", n)) => n == s,
                Some((l, n)) => {
                    s.len() == l.len() + 1 + n.len()
                        && s.starts_with(l)
                        && s.as_bytes().get(l.len()) == Some(&b'.')
                        && s.ends_with(n)
                }
                None => false,
            }
        })
    }
}

/// The anomalies of one packet, in the order they were found. At most
/// [`Events::CAP`] are kept (Suricata keeps 15); more are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events {
    n: u8,
    ev: [u8; Events::CAP],
}

impl Events {
    pub const CAP: usize = 15;

    pub fn push(&mut self, e: Ev) {
        if let Some(slot) = self.ev.get_mut(usize::from(self.n)) {
            *slot = e as u8;
            self.n += 1;
        }
    }

    pub fn contains(&self, e: Ev) -> bool {
        self.iter().any(|x| x == e)
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn len(&self) -> usize {
        usize::from(self.n)
    }

    pub fn iter(&self) -> impl Iterator<Item = Ev> + '_ {
        self.ev
            .iter()
            .take(usize::from(self.n))
            .filter_map(|&i| Ev::ALL.get(usize::from(i)).copied())
    }
}

/// Layers counted per packet under `stats.decoder.<name>` (besides the
/// IP/L4 counters the pipeline already keeps), in counter order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Counted {
    Ethernet,
    Arp,
    UnknownEthertype,
    Chdlc,
    Raw,
    Null,
    Sll,
    Sctp,
    Esp,
    Ppp,
    Pppoe,
    Geneve,
    Gre,
    Vlan,
    VlanQinq,
    VlanQinqinq,
    Vxlan,
    Vntag,
    Ieee8021ah,
    Teredo,
    Ipv4InIpv6,
    Ipv6InIpv6,
    Mpls,
    Erspan,
    Nsh,
    Ipv4,
    Ipv6,
    Tcp,
    Udp,
    Icmpv4,
    Icmpv6,
}

/// `stats.decoder` names of [`Counted`], in order.
pub const COUNTED: [&str; 31] = [
    "ethernet",
    "arp",
    "unknown_ethertype",
    "chdlc",
    "raw",
    "null",
    "sll",
    "sctp",
    "esp",
    "ppp",
    "pppoe",
    "geneve",
    "gre",
    "vlan",
    "vlan_qinq",
    "vlan_qinqinq",
    "vxlan",
    "vntag",
    "ieee8021ah",
    "teredo",
    "ipv4_in_ipv6",
    "ipv6_in_ipv6",
    "mpls",
    "erspan",
    "nsh",
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "icmpv4",
    "icmpv6",
];

/// The layers one packet went through (outer first), for the counters
/// and the `decoder.too_many_layers` limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layers {
    n: u8,
    l: [u8; Layers::CAP],
}

impl Layers {
    /// Suricata's `decoder.max-layers` default is 16.
    pub const CAP: usize = 16;

    /// Records a layer; false when the packet already has [`Layers::CAP`].
    pub fn push(&mut self, c: Counted) -> bool {
        match self.l.get_mut(usize::from(self.n)) {
            Some(slot) => {
                *slot = c as u8;
                self.n += 1;
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.n)
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Counter indexes (into [`COUNTED`]).
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.l
            .iter()
            .take(usize::from(self.n))
            .map(|&i| usize::from(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Ev::ALL {
            if KINDS[e.index()].suricata.is_some() {
                assert_eq!(Ev::by_name(e.name()), Some(e), "{}", e.name());
            }
        }
        assert_eq!(Ev::by_name("ipv6.frag_overlap"), Some(Ev::Ipv6FragOverlap));
        assert_eq!(
            Ev::by_name("decoder.ipv4.opt_pad_required"),
            Some(Ev::Ipv4OptPadRequired)
        );
        assert_eq!(Ev::by_name("too_many_layers"), Some(Ev::TooManyLayers));
        assert_eq!(Ev::by_name("ipv6.nope"), None);
        assert_eq!(Ev::by_name("empty"), None);
    }

    #[test]
    fn sets_are_bounded() {
        let mut s = Events::default();
        for _ in 0..40 {
            s.push(Ev::Ipv6ZeroLenPadn);
        }
        assert_eq!(s.len(), Events::CAP);
        let mut l = Layers::default();
        let pushed = (0..40).filter(|_| l.push(Counted::Vlan)).count();
        assert_eq!(pushed, Layers::CAP);
    }
}
