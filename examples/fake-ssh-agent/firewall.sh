# shellcheck shell=bash
# Gateway firewall for the fake-SSH-agent demo and the firewall tests: loads
# the example rulesets from examples/firewall/ into a network namespace.
# Source after scripts/lib/netns.sh. Needs FW_EXAMPLES (the examples/firewall
# directory).
#
#   fw_setup NS nftables|iptables   load the rules; sets FW_KIND (nftables or
#                                   iptables) and FW_MODE (nft-native,
#                                   nft-mark-fallback or iptables-ipset)
#   fw_set_add NS IP [TIMEOUT_S]    put an address into the suspected set
#   fw_set_del NS IP                take it out again
#   fw_set_has NS IP                status 0 when the address is in the set
#   fw_set_show NS                  print the set(s) as the kernel has them
#   fw_path_counts NS               print "QUEUED LOGGED": packets sent to the
#                                   IPS path (NFQUEUE) and to the IDS path (NFLOG)
#   fw_dom_backend_toml             the [[backend]] table for meerkat-dom

FW_TABLE="${FW_TABLE:-meerkat_demo}"
FW_SET4=suspectedip
FW_SET6=suspectedip6

# Prints the example file with the table renamed to $FW_TABLE.
_fw_nft_file() {
    sed "s/\(table inet \)meerkat\b/\1$FW_TABLE/" "$FW_EXAMPLES/$1"
}

# Status 0 when this kernel has the nft "queue" expression, tested in a
# scratch table (no hook, so no traffic is affected) in namespace $1.
fw_nft_has_queue() {
    local ns="$1" probe="meerkat_probe_$$" rc=0
    ip netns exec "$ns" nft add table inet "$probe" || return 2
    ip netns exec "$ns" nft add chain inet "$probe" c || rc=2
    if [[ $rc -eq 0 ]] && ! ip netns exec "$ns" nft add rule inet "$probe" c queue num 0 bypass 2>/dev/null; then
        rc=1
    fi
    ip netns exec "$ns" nft delete table inet "$probe" 2>/dev/null || true
    return "$rc"
}

fw_setup() {
    local ns="$1" kind="$2"
    case "$kind" in
    nftables)
        FW_KIND=nftables
        if fw_nft_has_queue "$ns"; then
            FW_MODE=nft-native
            _fw_nft_file nftables.nft | ip netns exec "$ns" nft -f - || return 1
        else
            FW_MODE=nft-mark-fallback
            echo "nft queue expression not supported by this kernel: falling back to mark + iptables NFQUEUE"
            _fw_nft_file nftables-mark-fallback.nft | ip netns exec "$ns" nft -f - || return 1
            ip netns exec "$ns" iptables-restore --noflush <"$FW_EXAMPLES/iptables-mark-fallback.rules" || return 1
            ip netns exec "$ns" ip6tables-restore --noflush <"$FW_EXAMPLES/iptables-mark-fallback.rules" || return 1
        fi
        ;;
    iptables)
        FW_KIND=iptables
        FW_MODE=iptables-ipset
        ip netns exec "$ns" ipset restore -exist <"$FW_EXAMPLES/ipset.rules" || return 1
        ip netns exec "$ns" iptables-restore --noflush <"$FW_EXAMPLES/iptables-ipset.rules" || return 1
        ip netns exec "$ns" ip6tables-restore --noflush <"$FW_EXAMPLES/ip6tables-ipset.rules" || return 1
        ;;
    *)
        echo "firewall: unknown kind '$kind' (use nftables or iptables)" >&2
        return 2
        ;;
    esac
}

_fw_is_v6() { [[ $1 == *:* ]]; }

fw_set_add() {
    local ns="$1" ip="$2" timeout="${3:-600}" set="$FW_SET4"
    _fw_is_v6 "$ip" && set="$FW_SET6"
    if [[ $FW_KIND == nftables ]]; then
        ip netns exec "$ns" nft add element inet "$FW_TABLE" "$set" "{ $ip timeout ${timeout}s }"
    else
        ip netns exec "$ns" ipset add -exist "$set" "$ip" timeout "$timeout"
    fi
}

fw_set_del() {
    local ns="$1" ip="$2" set="$FW_SET4"
    _fw_is_v6 "$ip" && set="$FW_SET6"
    if [[ $FW_KIND == nftables ]]; then
        ip netns exec "$ns" nft delete element inet "$FW_TABLE" "$set" "{ $ip }" 2>/dev/null || true
    else
        ip netns exec "$ns" ipset del -exist "$set" "$ip"
    fi
}

fw_set_has() {
    local ns="$1" ip="$2" set="$FW_SET4"
    _fw_is_v6 "$ip" && set="$FW_SET6"
    if [[ $FW_KIND == nftables ]]; then
        ip netns exec "$ns" nft get element inet "$FW_TABLE" "$set" "{ $ip }" >/dev/null 2>&1
    else
        ip netns exec "$ns" ipset test "$set" "$ip" -quiet 2>/dev/null
    fi
}

fw_set_show() {
    local ns="$1" set
    for set in "$FW_SET4" "$FW_SET6"; do
        if [[ $FW_KIND == nftables ]]; then
            ip netns exec "$ns" nft list set inet "$FW_TABLE" "$set" | grep -E 'set |elements|^\s+[0-9a-f:.]+ ' | sed 's/^\s*/    /'
        else
            ip netns exec "$ns" ipset list "$set" | grep -vE '^(Revision|Header|Size in memory|References|Number of entries):' | sed 's/^/    /'
        fi
    done
}

fw_path_counts() {
    local ns="$1" queued=0 logged=0 n t
    if [[ $FW_MODE == nft-native || $FW_MODE == nft-mark-fallback ]]; then
        # Counters of the nft rules: "queue" / "mark set" rules are the IPS
        # path, the "log" rule is the IDS path.
        read -r n t < <(ip netns exec "$ns" nft -j list table inet "$FW_TABLE" | jq -r '
            [.nftables[] | select(.rule) | .rule.expr] as $rules
            | def pk(f): [$rules[] | select(any(.[]; f)) | .[] | select(.counter) | .counter.packets] | add // 0;
            "\(pk(has("queue") or has("mangle"))) \(pk(has("log")))"')
        queued=$n
        logged=$t
    fi
    if [[ $FW_MODE == iptables-ipset ]]; then
        for t in iptables ip6tables; do
            while read -r n target; do
                case "$target" in
                NFQUEUE) queued=$((queued + n)) ;;
                NFLOG) logged=$((logged + n)) ;;
                esac
            done < <(ip netns exec "$ns" "$t" -w -nvxL FORWARD | awk 'NR > 2 { print $1, $3 }')
        done
    fi
    echo "$queued $logged"
}

fw_dom_backend_toml() {
    if [[ $FW_KIND == nftables ]]; then
        cat <<EOF
[[backend]]
kind = "nftables"
family = "inet"
table = "$FW_TABLE"
set_v4 = "$FW_SET4"
set_v6 = "$FW_SET6"
manage = false
EOF
    else
        cat <<EOF
[[backend]]
kind = "ipset"
set_v4 = "$FW_SET4"
set_v6 = "$FW_SET6"
manage = false
EOF
    fi
}
