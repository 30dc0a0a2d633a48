//! The decoding pipeline: link layer → (tags, tunnels) → IP → L4, as
//! Suricata's decoders chain, recording layers and anomalies in
//! [`Ext`](super::Ext). A tunnel's inner packet replaces the outer one in
//! the summary (the capture source, and so the mode, stay the packet's).

use std::net::IpAddr;

use super::ethernet::{self, ethertype};
use super::event::{Counted, Ev};
use super::link::{self, NullFamily};
use super::udp_tunnel::{GENEVE_PORT, VXLAN_PORT};
use super::{
    gre, icmp, ipproto, ipv4, ipv6, mpls, ppp, tcp, udp, DecodeError, Ether, Ext, Frag, IpInfo,
    Layer, Packet, L4,
};

type R = Result<(), DecodeError>;

fn ev(e: Ev) -> DecodeError {
    DecodeError::Anomaly(e)
}

/// Decodes a captured frame of link type `linktype` (pcap numbering;
/// [`super::LINKTYPE_RAW`] for NFQUEUE/NFLOG). Always returns a packet:
/// when decoding failed, `ext.invalid` says why and the summary holds
/// what was decoded before (`ext.has_ip`: whether the IP layer was).
/// `allow_truncated`: the capture is shorter than the packet (copy range,
/// snaplen): lengths past the capture are accepted.
pub fn decode_frame(linktype: u16, frame: &[u8], allow_truncated: bool) -> Packet<'_> {
    let mut d = Dec {
        ext: Ext {
            linktype,
            frame,
            ..Ext::default()
        },
        ip: None,
        l4: L4::Other,
        payload: &[],
        allow_truncated,
    };
    let r = d.link(linktype, frame);
    d.finish(r)
}

struct Dec<'a> {
    ext: Ext<'a>,
    ip: Option<IpInfo>,
    l4: L4,
    payload: &'a [u8],
    allow_truncated: bool,
}

impl<'a> Dec<'a> {
    fn finish(mut self, r: R) -> Packet<'a> {
        if let Err(e) = r {
            self.ext.events.push(e.event());
            self.ext.invalid = Some(e);
            self.l4 = L4::Other;
            self.payload = &[];
        }
        self.ext.has_ip = self.ip.is_some();
        Packet {
            ip: self.ip.unwrap_or(IpInfo::NONE),
            l4: self.l4,
            payload: self.payload,
            ext: self.ext,
        }
    }

    fn event(&mut self, e: Ev) {
        self.ext.events.push(e);
    }

    /// Counts a layer; too many layers is fatal (`decoder.too_many_layers`).
    fn layer(&mut self, c: Counted) -> R {
        if self.ext.layers.push(c) && self.ext.layers.len() < super::Layers::CAP {
            Ok(())
        } else {
            Err(ev(Ev::TooManyLayers))
        }
    }

    fn link(&mut self, lt: u16, f: &'a [u8]) -> R {
        match lt {
            link::LINKTYPE_ETHERNET => self.ethernet(f),
            link::LINKTYPE_LINUX_SLL => {
                self.layer(Counted::Sll)?;
                let p = link::sll_proto(f).ok_or(ev(Ev::SllPktTooSmall))?;
                self.ethertype_or_unknown(p, f.get(link::SLL_LEN..).unwrap_or(&[]))
            }
            link::LINKTYPE_LINUX_SLL2 => {
                self.layer(Counted::Sll)?;
                let p = link::sll2_proto(f).ok_or(ev(Ev::SllPktTooSmall))?;
                self.ethertype_or_unknown(p, f.get(link::SLL2_LEN..).unwrap_or(&[]))
            }
            link::LINKTYPE_NULL | link::LINKTYPE_LOOP => {
                self.layer(Counted::Null)?;
                let fam = link::null_family(lt, f).ok_or(ev(Ev::LtnullPktTooSmall))?;
                let rest = f.get(4..).unwrap_or(&[]);
                match fam {
                    NullFamily::Ipv4 => self.ipv4(rest),
                    NullFamily::Ipv6 => self.ipv6(rest),
                    NullFamily::Other => Err(ev(Ev::LtnullUnsupportedType)),
                }
            }
            link::LINKTYPE_PPP => self.ppp(f),
            link::LINKTYPE_IPV4 => self.ipv4(f),
            link::LINKTYPE_IPV6 => self.ipv6(f),
            _ => {
                self.layer(Counted::Raw)?;
                self.raw_ip(f)
            }
        }
    }

    fn raw_ip(&mut self, f: &'a [u8]) -> R {
        let first = *f.first().ok_or(DecodeError::Empty)?;
        match first >> 4 {
            4 => self.ipv4(f),
            6 => self.ipv6(f),
            v => Err(DecodeError::BadVersion(v)),
        }
    }

    fn ethernet(&mut self, f: &'a [u8]) -> R {
        self.layer(Counted::Ethernet)?;
        let (dst, src, et) = ethernet::header(f).ok_or(ev(Ev::EthernetPktTooSmall))?;
        if self.ext.ether.is_none() {
            self.ext.ether = Some(Ether { src, dst });
        }
        self.ethertype_or_unknown(et, f.get(ethernet::HEADER_LEN..).unwrap_or(&[]))
    }

    /// An ethertype after Ethernet or SLL: an unknown one is counted, not
    /// an error.
    fn ethertype_or_unknown(&mut self, et: u16, rest: &'a [u8]) -> R {
        if self.ethertype(et, rest)? {
            Ok(())
        } else {
            self.layer(Counted::UnknownEthertype)
        }
    }

    /// Decodes the payload of ethertype `et`; `Ok(false)` when the
    /// ethertype is not one Suricata decodes.
    fn ethertype(&mut self, et: u16, rest: &'a [u8]) -> Result<bool, DecodeError> {
        match et {
            ethertype::IPV4 => self.ipv4(rest)?,
            ethertype::IPV6 => self.ipv6(rest)?,
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => self.vlan(rest)?,
            ethertype::ARP => self.layer(Counted::Arp)?,
            ethertype::MPLS_UC | ethertype::MPLS_MC => self.mpls(rest)?,
            ethertype::PPPOE_SESS => self.pppoe_session(rest)?,
            ethertype::PPPOE_DISC => {
                self.layer(Counted::Pppoe)?;
                if rest.len() < 6 {
                    return Err(ev(Ev::PppoePktTooSmall));
                }
            }
            ethertype::VNTAG => {
                self.layer(Counted::Vntag)?;
                let next = ethernet::vntag(rest).ok_or(ev(Ev::VntagHeaderTooSmall))?;
                let inner = rest.get(ethernet::VNTAG_LEN..).unwrap_or(&[]);
                if !self.ethertype(next, inner)? {
                    return Err(ev(Ev::VntagUnknownType));
                }
            }
            ethertype::IEEE8021AH => {
                self.layer(Counted::Ieee8021ah)?;
                let next = ethernet::ieee8021ah(rest).ok_or(ev(Ev::Ieee8021ahHeaderTooSmall))?;
                let inner = rest.get(ethernet::IEEE8021AH_LEN..).unwrap_or(&[]);
                self.ethertype_or_unknown(next, inner)?;
            }
            ethertype::NSH => self.nsh(rest)?,
            ethertype::DCE => {
                if rest.len() < ethernet::DCE_LEN {
                    return Err(ev(Ev::DcePktTooSmall));
                }
                self.ethernet(rest.get(2..).unwrap_or(&[]))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn vlan(&mut self, f: &'a [u8]) -> R {
        let c = match self.ext.vlan.len() {
            0 => Counted::Vlan,
            1 => Counted::VlanQinq,
            2 => Counted::VlanQinqinq,
            _ => return Err(ev(Ev::VlanTooManyLayers)),
        };
        self.layer(c)?;
        let (id, next) = ethernet::vlan(f).ok_or(ev(Ev::VlanHeaderTooSmall))?;
        self.ext.vlan.push(id);
        if self.ethertype(next, f.get(ethernet::VLAN_LEN..).unwrap_or(&[]))? {
            Ok(())
        } else {
            Err(ev(Ev::VlanUnknownType))
        }
    }

    fn mpls(&mut self, mut f: &'a [u8]) -> R {
        self.layer(Counted::Mpls)?;
        let label = loop {
            let (label, bottom) = mpls::shim(f).ok_or(ev(Ev::MplsHeaderTooSmall))?;
            f = f.get(mpls::MPLS_LABEL_LEN..).unwrap_or(&[]);
            if bottom {
                break label;
            }
        };
        match label {
            mpls::label::IPV4 => return self.ipv4(f),
            mpls::label::IPV6 => return self.ipv6(f),
            mpls::label::ROUTER_ALERT => return Err(ev(Ev::MplsBadLabelRouterAlert)),
            mpls::label::NULL => return Err(ev(Ev::MplsBadLabelImplicitNull)),
            l if l < mpls::label::MAX_RESERVED => return Err(ev(Ev::MplsBadLabelReserved)),
            _ => {}
        }
        match f.first().map(|b| b >> 4) {
            Some(4) => self.ipv4(f),
            Some(6) => self.ipv6(f),
            Some(0) => {
                if f.len() < mpls::MPLS_PW_LEN + ethernet::HEADER_LEN {
                    return Err(ev(Ev::MplsPktTooSmall));
                }
                self.ethernet(f.get(mpls::MPLS_PW_LEN..).unwrap_or(&[]))
            }
            _ => {
                self.event(Ev::MplsUnknownPayloadType);
                Ok(())
            }
        }
    }

    fn nsh(&mut self, f: &'a [u8]) -> R {
        self.layer(Counted::Nsh)?;
        let (version, len, md, next) = mpls::nsh(f).ok_or(ev(Ev::NshHeaderTooSmall))?;
        if version != 0 {
            return Err(ev(Ev::NshUnsupportedVersion));
        }
        if len < mpls::NSH_LEN || f.len() < len || (md == 1 && len != 24) {
            return Err(ev(Ev::NshBadHeaderLength));
        }
        match md {
            0 | 0xf => return Err(ev(Ev::NshReservedType)),
            1 | 2 => {}
            _ => return Err(ev(Ev::NshUnsupportedType)),
        }
        let inner = f.get(len..).unwrap_or(&[]);
        match next {
            mpls::nsh_next::IPV4 => self.ipv4(inner),
            mpls::nsh_next::IPV6 => self.ipv6(inner),
            mpls::nsh_next::ETHERNET => self.ethernet(inner),
            mpls::nsh_next::MPLS => self.mpls(inner),
            mpls::nsh_next::NSH => self.nsh(inner),
            _ => Err(ev(Ev::NshUnknownPayload)),
        }
    }

    fn ppp(&mut self, f: &'a [u8]) -> R {
        self.layer(Counted::Ppp)?;
        let (proto, hlen) = ppp::header(f).ok_or(ev(Ev::PppPktTooSmall))?;
        self.ppp_payload(proto, f.get(hlen..).unwrap_or(&[]))
    }

    fn ppp_payload(&mut self, proto: u16, rest: &'a [u8]) -> R {
        match proto {
            ppp::proto::IPV4 => {
                if rest.len() < ipv4::HEADER_LEN {
                    return Err(ev(Ev::PppIp4PktTooSmall));
                }
                self.ipv4(rest)
            }
            ppp::proto::IPV6 => {
                if rest.len() < ipv6::HEADER_LEN {
                    return Err(ev(Ev::PppIp6PktTooSmall));
                }
                self.ipv6(rest)
            }
            ppp::proto::VJ_UCOMP => {
                if rest.len() < ipv4::HEADER_LEN {
                    return Err(ev(Ev::PppVjuPktTooSmall));
                }
                if rest.first().map(|b| b >> 4) == Some(4) {
                    self.ipv4(rest)
                } else {
                    Ok(())
                }
            }
            p if ppp::known_unsupported(p) => {
                self.event(Ev::PppUnsupProto);
                Ok(())
            }
            _ => Err(ev(Ev::PppWrongType)),
        }
    }

    fn pppoe_session(&mut self, f: &'a [u8]) -> R {
        self.layer(Counted::Pppoe)?;
        let (code, proto, hlen) = ppp::pppoe_session(f).ok_or(ev(Ev::PppoePktTooSmall))?;
        if code != 0 {
            return Err(ev(Ev::PppoeWrongCode));
        }
        self.ppp_payload(proto, f.get(hlen..).unwrap_or(&[]))
    }

    /// Starts a new IP layer: a tunnel's inner packet replaces the outer.
    fn enter_ip(&mut self, data: &'a [u8]) {
        if self.ip.is_some() {
            self.ext.tunnel = true;
        }
        self.ext.ip_raw = data;
        self.ext.frag = None;
        self.ext.sctp_ports = None;
        self.ext.esp_spi = None;
        self.l4 = L4::Other;
        self.payload = &[];
    }

    fn ipv4(&mut self, data: &'a [u8]) -> R {
        self.layer(Counted::Ipv4)?;
        if data.len() < ipv4::HEADER_LEN {
            return Err(ev(Ev::Ipv4PktTooSmall));
        }
        if data.first().map(|b| b >> 4) != Some(4) {
            return Err(ev(Ev::Ipv4WrongIpVersion));
        }
        let p = ipv4::Packet::new_unchecked(data);
        if p.header_len() < ipv4::HEADER_LEN {
            return Err(ev(Ev::Ipv4HlenTooSmall));
        }
        p.check_len_inner(self.allow_truncated)?;
        self.enter_ip(data);
        let frag_off = p.frag_offset();
        let more = p.more_frags();
        let fragment = frag_off != 0 || more;
        let proto = p.protocol();
        let hlen = p.header_len();
        let ip = IpInfo {
            version: 4,
            src: IpAddr::V4(p.src_addr()),
            dst: IpAddr::V4(p.dst_addr()),
            proto,
            ttl: p.ttl(),
            tos: p.tos(),
            id: p.ident(),
            len: p.effective_len() as u32,
            flow_label: 0,
            fragment,
            header_len: hlen as u16,
        };
        self.ip = Some(ip);
        let l4data = p.into_payload();
        if fragment {
            let offset = u32::from(frag_off);
            if offset + l4data.len() as u32 > 65535 {
                self.event(Ev::Ipv4FragPktTooLarge);
            }
            self.ext.frag = Some(Frag {
                id: u32::from(ip.id),
                offset,
                more,
                data_off: hlen,
                data_len: l4data.len(),
                proto,
                unfrag_len: hlen,
                prev_nh_off: 0,
            });
        }
        if frag_off != 0 {
            return Ok(());
        }
        self.l4(proto, false, l4data)
    }

    fn ipv6(&mut self, data: &'a [u8]) -> R {
        self.layer(Counted::Ipv6)?;
        if data.len() < ipv6::HEADER_LEN {
            return Err(ev(Ev::Ipv6PktTooSmall));
        }
        if data.first().map(|b| b >> 4) != Some(6) {
            return Err(ev(Ev::Ipv6WrongIpVersion));
        }
        let p = ipv6::Packet::new_unchecked(data);
        p.check_len_inner(self.allow_truncated)?;
        self.enter_ip(data);
        let rest = p.into_payload();
        let walk = ipv6::walk_exthdrs(p.next_header(), rest, &mut self.ext.events);
        let ip = IpInfo {
            version: 6,
            src: IpAddr::V6(p.src_addr()),
            dst: IpAddr::V6(p.dst_addr()),
            proto: walk.proto,
            ttl: p.hop_limit(),
            tos: p.traffic_class(),
            id: 0,
            len: rest.len() as u32,
            flow_label: p.flow_label(),
            fragment: walk.frag.is_some(),
            header_len: (ipv6::HEADER_LEN + walk.l4_off) as u16,
        };
        self.ip = Some(ip);
        if let Some(e) = walk.fatal {
            return Err(ev(e));
        }
        let l4data = rest.get(walk.l4_off..).unwrap_or(&[]);
        if let Some(f) = walk.frag {
            if f.offset + l4data.len() as u32 > 65535 {
                self.event(Ev::Ipv6FragPktTooLarge);
            }
            self.ext.frag = Some(Frag {
                id: f.id,
                offset: f.offset,
                more: f.more,
                data_off: ipv6::HEADER_LEN + walk.l4_off,
                data_len: l4data.len(),
                proto: f.next,
                unfrag_len: ipv6::HEADER_LEN + f.at,
                prev_nh_off: f.prev_nh,
            });
            if f.offset != 0 {
                return Ok(());
            }
        }
        if !walk.l4 && walk.frag.is_none() {
            return Ok(());
        }
        self.l4(walk.proto, true, l4data)
    }

    fn l4(&mut self, proto: u8, v6: bool, data: &'a [u8]) -> R {
        let fragment = self.ext.frag.is_some();
        let r = match proto {
            ipproto::TCP => self.tcp(data),
            ipproto::UDP => self.udp(data),
            ipproto::ICMP if !v6 => self.icmp(false, data),
            ipproto::ICMPV6 if v6 => self.icmp(true, data),
            ipproto::ICMP => {
                self.event(Ev::Ipv6Icmpv4);
                Ok(())
            }
            ipproto::ICMPV6 => {
                self.event(Ev::Ipv4Icmpv6);
                Ok(())
            }
            ipproto::SCTP => {
                self.layer(Counted::Sctp)?;
                if data.len() < 12 {
                    return Err(ev(Ev::SctpPktTooSmall));
                }
                self.ext.sctp_ports = Some((super::be16(data, 0..2), super::be16(data, 2..4)));
                self.payload = data.get(12..).unwrap_or(&[]);
                Ok(())
            }
            ipproto::ESP => {
                self.layer(Counted::Esp)?;
                if data.len() < 8 {
                    return Err(ev(Ev::EspPktTooSmall));
                }
                self.ext.esp_spi = Some(super::be32(data, 0..4));
                Ok(())
            }
            ipproto::GRE if !fragment => self.gre(data),
            ipproto::IPIP if !fragment => {
                if v6 {
                    self.layer(Counted::Ipv4InIpv6)?;
                    if data.len() < ipv4::HEADER_LEN {
                        return Err(ev(Ev::Ipv6Ipv4InIpv6TooSmall));
                    }
                    if data.first().map(|b| b >> 4) != Some(4) {
                        return Err(ev(Ev::Ipv6Ipv4InIpv6WrongVersion));
                    }
                }
                self.ipv4(data)
            }
            ipproto::IPV6 if !fragment => {
                if v6 {
                    self.layer(Counted::Ipv6InIpv6)?;
                    if data.len() < ipv6::HEADER_LEN {
                        return Err(ev(Ev::Ipv6Ipv6InIpv6TooSmall));
                    }
                    if data.first().map(|b| b >> 4) != Some(6) {
                        return Err(ev(Ev::Ipv6Ipv6InIpv6WrongVersion));
                    }
                }
                self.ipv6(data)
            }
            _ => Ok(()),
        };
        match r {
            // A first fragment too short for its L4 header is still a
            // valid fragment: reported without L4.
            Err(_) if fragment => {
                self.l4 = L4::Other;
                self.payload = &[];
                Ok(())
            }
            r => r,
        }
    }

    fn tcp(&mut self, data: &'a [u8]) -> R {
        self.layer(Counted::Tcp)?;
        let t = tcp::Packet::new_checked(data)?;
        self.l4 = L4::Tcp(t.info());
        self.payload = t.into_payload();
        Ok(())
    }

    fn udp(&mut self, data: &'a [u8]) -> R {
        self.layer(Counted::Udp)?;
        let u = udp::Packet::new_unchecked(data);
        let trunc_ok = self.allow_truncated || self.ext.frag.is_some();
        if data.len() >= udp::HEADER_LEN {
            let l = usize::from(u.len());
            if l != 0 && l > data.len() && !trunc_ok {
                return Err(ev(Ev::UdpPktTooSmall));
            }
        }
        u.check_len_inner(trunc_ok)?;
        let info = u.info();
        self.l4 = L4::Udp(info);
        self.payload = u.into_payload();
        if self.ext.frag.is_some() {
            return Ok(());
        }
        let payload = self.payload;
        if info.dst_port == VXLAN_PORT || info.src_port == VXLAN_PORT {
            if let Some(inner) = super::udp_tunnel::vxlan(payload) {
                if let Some((_, _, et)) = ethernet::header(inner) {
                    if matches!(et, ethertype::IPV4 | ethertype::IPV6 | ethertype::ARP) {
                        self.layer(Counted::Vxlan)?;
                        return self.ethernet(inner);
                    }
                    self.event(Ev::VxlanUnknownPayloadType);
                }
            }
        }
        if info.dst_port == GENEVE_PORT || info.src_port == GENEVE_PORT {
            if let Some((proto, inner)) = super::udp_tunnel::geneve(payload) {
                match proto {
                    ethertype::TEB => {
                        self.layer(Counted::Geneve)?;
                        return self.ethernet(inner);
                    }
                    ethertype::IPV4 => {
                        self.layer(Counted::Geneve)?;
                        return self.ipv4(inner);
                    }
                    ethertype::IPV6 => {
                        self.layer(Counted::Geneve)?;
                        return self.ipv6(inner);
                    }
                    _ => self.event(Ev::GeneveUnknownPayloadType),
                }
            }
        }
        Ok(())
    }

    fn icmp(&mut self, v6: bool, data: &'a [u8]) -> R {
        self.layer(if v6 { Counted::Icmpv6 } else { Counted::Icmpv4 })?;
        let i = match icmp::Packet::new_checked(data) {
            Ok(i) => i,
            Err(DecodeError::Truncated(Layer::Icmp)) if v6 => {
                return Err(ev(Ev::Icmpv6PktTooSmall));
            }
            Err(e) => return Err(e),
        };
        let info = i.info(v6);
        let unknown = icmp::check_type_code(v6, info.itype, info.icode);
        if let Some(e) = unknown {
            self.event(e);
        }
        let quoted = data.get(8..).unwrap_or(&[]);
        if !v6 && unknown.is_none() && icmp::quotes_ipv4(info.itype) && !quoted.is_empty() {
            // The quoted header of an ICMP error with a known code, as
            // Suricata's DecodePartialIPV4: anomalies, not a reason to
            // give up on the packet.
            if quoted.len() < ipv4::HEADER_LEN {
                self.event(Ev::Icmpv4Ipv4TruncPkt);
            } else if quoted.first().map(|b| b >> 4) != Some(4) {
                self.event(Ev::Icmpv4Ipv4UnknownVer);
            }
        }
        if v6 && matches!(info.itype, 130..=132 | 143) && self.ip.map(|ip| ip.ttl) != Some(1) {
            self.event(Ev::Icmpv6MldInvalidHl);
        }
        self.l4 = L4::Icmp(info);
        self.payload = i.into_payload();
        Ok(())
    }

    fn gre(&mut self, data: &'a [u8]) -> R {
        self.layer(Counted::Gre)?;
        let g = gre::parse(data).map_err(ev)?;
        let inner = data.get(g.len..).unwrap_or(&[]);
        match g.proto {
            ethertype::IPV4 => self.ipv4(inner),
            ethertype::IPV6 => self.ipv6(inner),
            gre::PROTO_PPP => self.ppp(inner),
            ethertype::TEB => self.ethernet(inner),
            ethertype::VLAN => self.vlan(inner),
            gre::PROTO_ERSPAN => {
                self.layer(Counted::Erspan)?;
                if g.seq {
                    let vlan = gre::erspan2(inner).map_err(ev)?;
                    if vlan > 0 && !self.ext.vlan.push(vlan) {
                        return Err(ev(Ev::ErspanTooManyVlanLayers));
                    }
                    self.ethernet(inner.get(gre::ERSPAN_LEN..).unwrap_or(&[]))
                } else {
                    self.ethernet(inner)
                }
            }
            _ => Ok(()),
        }
    }
}
