# bench/lib.sh — helpers the HTTP benchmark scripts source.

# wait_ready NAME PORT waits (up to 5 s) until the server answers / on
# 127.0.0.1:PORT; exits the script with a one-line reason if it never does.
wait_ready() {
  local name=$1 port=$2
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/" >/dev/null && return 0
    sleep 0.05
  done
  echo "$0: $name did not start" >&2
  exit 1
}

# median FILE prints the median of the percentages in FILE (one a line),
# with their min and max: "1.07% (min -0.54%, max 3.64%)".
median() {
  sort -g "$1" | awk '{ a[NR] = $1 } END {
    printf "%.2f%% (min %.2f%%, max %.2f%%)", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }'
}
