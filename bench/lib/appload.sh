# shellcheck shell=bash
# Application traffic beside iperf3 in bench/sensor.sh: real servers in the
# server namespace, real clients looping in the client namespace, so that
# the app-layer rules (HTTP, TLS, DNS) of the loaded ruleset meet traffic.
# Source after bench/lib/gateway.sh; needs curl, openssl, dig, dnsmasq,
# python3.
#
#   appload_up            starts the servers (call once, after gateway_up)
#   appload_start DIR     starts the clients for SECS seconds (background)
#   appload_collect DIR   waits for them; sets APP_RATES="http tls dns"
#                         (per second). Call it in the shell that started
#                         them (not in a subshell: it waits for them).
#
# HTTP: curl fetching one URL range (`?[1-1000000]`) from Python's
# http.server (HTTP/1.0: one connection per request); TLS: `openssl s_time
# -new` full handshakes against `openssl s_server` (a generated
# certificate); DNS: `dig -f` over a list of A queries for names dnsmasq
# answers. Each client is one process run sequentially, so the figures are
# requests per second of one client each, as the sensor lets them through.

APP_HTTP_PORT=8080
APP_TLS_PORT=8443
APP_ZONE=bench.example

appload_up() {
    local d="$T/app"
    mkdir -p "$d/www"
    head -c 1024 /dev/zero | tr '\0' 'm' >"$d/www/index.html"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$APP_ZONE" \
        -addext "subjectAltName=DNS:$APP_ZONE" -keyout "$d/key.pem" -out "$d/cert.pem" >"$d/openssl-req.log" 2>&1 ||
        bench_die "openssl req failed: $(tail -3 "$d/openssl-req.log")"
    bench_bg "$d/http-server.log" ip netns exec "$NS_S" python3 -m http.server "$APP_HTTP_PORT" \
        --bind "$SERVER_IP" --directory "$d/www"
    bench_bg "$d/tls-server.log" ip netns exec "$NS_S" openssl s_server -accept "$APP_TLS_PORT" \
        -cert "$d/cert.pem" -key "$d/key.pem" -www -quiet
    bench_bg "$d/dnsmasq.log" ip netns exec "$NS_S" dnsmasq --no-daemon --user=root --port=53 \
        --listen-address="$SERVER_IP" --bind-interfaces --no-resolv --no-hosts \
        --address="/$APP_ZONE/$SERVER_IP" --pid-file="$d/dnsmasq.pid" --log-facility="$d/dnsmasq.syslog"
    bench_wait 10 bench_listening "$NS_S" -Hltn "$APP_HTTP_PORT" || bench_die "http.server did not start: $(tail -3 "$d/http-server.log")"
    bench_wait 10 bench_listening "$NS_S" -Hltn "$APP_TLS_PORT" || bench_die "openssl s_server did not start: $(tail -3 "$d/tls-server.log")"
    bench_wait 10 bench_listening "$NS_S" -Hlun 53 || bench_die "dnsmasq did not start: $(tail -3 "$d/dnsmasq.log")"
    for i in $(seq 1 200000); do echo "q$i.$APP_ZONE A"; done >"$d/queries.txt"
    # Prove each path (no firewall rule yet); the servers may refuse the
    # first connections for a moment after they listen.
    local try h=0 t=0 n=0
    for try in 1 2 3 4 5; do
        appload_start "$d/check$try" 1
        appload_collect "$d/check$try"
        read -r h t n <<<"$APP_RATES"
        [[ $h != 0 && $t != 0 && $n != 0 ]] && return 0
        sleep 1
    done
    bench_die "app traffic does not flow (http $h, tls $t, dns $n per s): see $d/check5"
}

# appload_start DIR [SECS]
appload_start() {
    local dir="$1" secs="${2:-$SECS}"
    mkdir -p "$dir"
    APP_PIDS=()
    # Line-buffered, so that the requests done before the timeout all count.
    timeout -k 1 "$secs" ip netns exec "$NS_C" stdbuf -oL curl -s -o /dev/null -w '%{http_code}\n' \
        "http://$SERVER_IP:$APP_HTTP_PORT/index.html?[1-1000000]" >"$dir/http.out" 2>/dev/null &
    APP_PIDS+=($!)
    timeout -k 1 $((secs + 5)) ip netns exec "$NS_C" openssl s_time -connect "$SERVER_IP:$APP_TLS_PORT" \
        -new -time "$secs" >"$dir/tls.out" 2>&1 &
    APP_PIDS+=($!)
    timeout -k 1 "$secs" ip netns exec "$NS_C" stdbuf -oL dig @"$SERVER_IP" -f "$T/app/queries.txt" +tries=1 +time=1 +noall +answer \
        >"$dir/dns.out" 2>/dev/null &
    APP_PIDS+=($!)
    APP_SECS=$secs
}

appload_collect() {
    local dir="$1" p http tls dns
    for p in "${APP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    http=$(grep -ac '^200' "$dir/http.out" || true)
    tls=$(grep -aoE '^[0-9]+ connections in [0-9.]+s' "$dir/tls.out" | tail -1 | awk '{printf "%d", $1}' || true)
    dns=$(grep -ac "IN[[:space:]]A[[:space:]]" "$dir/dns.out" || true)
    APP_RATES=$(awk -v h="${http:-0}" -v t="${tls:-0}" -v d="${dns:-0}" -v s="$APP_SECS" 'BEGIN {printf "%.0f %.0f %.0f\n", h / s, t / s, d / s}')
}
