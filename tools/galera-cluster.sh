#!/usr/bin/env bash
# A throw-away 3-node MariaDB Galera cluster on loopback, for the test
# suite and benchmarks. It never touches the system MariaDB (3306): each
# node has its own datadir, socket, pid file and ports under $GALERA_DIR.
#
#   tools/galera-cluster.sh start          # fresh cluster, waits for 3 x Synced
#   tools/galera-cluster.sh stop           # stop every node (by PID)
#   tools/galera-cluster.sh status         # size/state of each node
#   tools/galera-cluster.sh urls           # SQLAlchemy URLs, comma separated
#   tools/galera-cluster.sh stop-node N    # stop node N (0-2) by PID
#   tools/galera-cluster.sh kill-node N    # crash node N (SIGKILL)
#   tools/galera-cluster.sh start-node N   # restart node N, wait until Synced
#
# Environment: GALERA_DIR (default ${TMPDIR:-/tmp}/placement-galera),
# GALERA_BASE_PORT (default 4306). Node i listens for SQL on base+i, for
# group communication on base+10+i, IST on base+20+i, rsync SST on
# base+30+i. Node 0 bootstraps the cluster (--wsrep-new-cluster); the
# others join it by state transfer (rsync). Root has no password and is
# reachable on 127.0.0.1 only.
set -euo pipefail

DIR=${GALERA_DIR:-${TMPDIR:-/tmp}/placement-galera}
# A running cluster remembers its ports.
if [ -z "${GALERA_BASE_PORT:-}" ] && [ -f "$DIR/ports" ]; then
    . "$DIR/ports"
fi
BASE=${GALERA_BASE_PORT:-4306}
PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
NODES=3
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}
TIMEOUT=${GALERA_TIMEOUT:-120}

sql_port() { echo $((BASE + $1)); }
gcomm_port() { echo $((BASE + 10 + $1)); }
node_dir() { echo "$DIR/node$1"; }
pid_of() { cat "$(node_dir "$1")/mariadbd.pid" 2>/dev/null || true; }

alive() {
    local pid
    pid=$(pid_of "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

q() {  # q NODE SQL: run SQL on node NODE, tab-separated, no headers
    mysql --no-defaults -h 127.0.0.1 -P "$(sql_port "$1")" -uroot \
        --connect-timeout=2 -N -B -e "$2" 2>/dev/null
}

wsrep_var() {
    q "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2
}

write_conf() {
    local i=$1 d cluster=""
    d=$(node_dir "$i")
    for j in $(seq 0 $((NODES - 1))); do
        cluster="$cluster${cluster:+,}127.0.0.1:$(gcomm_port "$j")"
    done
    cat > "$d/my.cnf" <<EOF
[mysqld]
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mariadbd.pid
log-error=$d/error.log
port=$(sql_port "$i")
bind-address=127.0.0.1
skip-name-resolve
$( [ "$(id -u)" = 0 ] && echo user=mysql )
max_connections=400
performance_schema=OFF
innodb_buffer_pool_size=128M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=placement_test
wsrep_cluster_address=gcomm://$cluster
wsrep_node_name=node$i
wsrep_node_address=127.0.0.1:$(gcomm_port "$i")
wsrep_node_incoming_address=127.0.0.1:$(sql_port "$i")
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((BASE + 30 + i))
wsrep_slave_threads=2
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$i");ist.recv_addr=127.0.0.1:$((BASE + 20 + i));gcache.size=64M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S;pc.wait_prim_timeout=PT10S"
EOF
}

wait_synced() {  # wait_synced NODE: until the node is Synced in a 3-node primary
    local i=$1 deadline=$((SECONDS + TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        if ! alive "$i"; then
            echo "galera: node $i died; see $(node_dir "$i")/error.log" >&2
            tail -20 "$(node_dir "$i")/error.log" >&2 || true
            return 1
        fi
        if [ "$(wsrep_var "$i" wsrep_local_state_comment)" = Synced ] &&
           [ "$(wsrep_var "$i" wsrep_cluster_status)" = Primary ] &&
           [ "$(wsrep_var "$i" wsrep_ready)" = ON ]; then
            return 0
        fi
        sleep 0.5
    done
    echo "galera: node $i not Synced after ${TIMEOUT}s" >&2
    return 1
}

launch() {  # launch NODE [extra mariadbd args]
    local i=$1 d
    shift
    d=$(node_dir "$i")
    rm -f "$d/mariadbd.pid"
    # Detached from our stdout: callers capture the script's output.
    nohup "$MARIADBD" --defaults-file="$d/my.cnf" "$@" \
        >>"$d/stdout.log" 2>&1 </dev/null &
    local deadline=$((SECONDS + 30))
    until [ -s "$d/mariadbd.pid" ]; do
        if [ $SECONDS -ge $deadline ]; then
            echo "galera: node $i wrote no pid file" >&2
            tail -20 "$d/error.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

stop_node() {
    local i=$1 pid deadline
    pid=$(pid_of "$i")
    [ -n "$pid" ] || return 0
    if kill -TERM "$pid" 2>/dev/null; then
        deadline=$((SECONDS + 60))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "galera: node $i (pid $pid) ignored SIGTERM; killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$(node_dir "$i")/mariadbd.pid"
}

kill_node() {
    local i=$1 pid
    pid=$(pid_of "$i")
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$(node_dir "$i")/mariadbd.pid"
}

start_node() {  # (re)start a stopped node; it rejoins by IST/SST
    local i=$1
    if alive "$i"; then
        wait_synced "$i"
        return
    fi
    launch "$i"
    wait_synced "$i"
}

cmd_start() {
    for i in $(seq 0 $((NODES - 1))); do
        if alive "$i"; then
            echo "galera: node $i already running (pid $(pid_of "$i")); stop first" >&2
            return 1
        fi
    done
    for tool in "$MARIADBD" mariadb-install-db rsync mysql; do
        command -v "$tool" >/dev/null || {
            echo "galera: $tool not found (apt-get install mariadb-server galera-4 rsync)" >&2
            return 1; }
    done
    [ -e "$PROVIDER" ] || { echo "galera: no $PROVIDER (apt-get install galera-4)" >&2; return 1; }
    rm -rf "$DIR"
    mkdir -p "$DIR"
    echo "GALERA_BASE_PORT=$BASE" > "$DIR/ports"
    for i in $(seq 0 $((NODES - 1))); do
        mkdir -p "$(node_dir "$i")/data"
        write_conf "$i"
    done
    if [ "$(id -u)" = 0 ]; then
        # The nodes run as mysql: every directory above $DIR must let it in.
        chown -R mysql:mysql "$DIR"
        if ! su mysql -s /bin/sh -c "test -w '$DIR/node0/data'"; then
            echo "galera: user mysql cannot reach $DIR (a parent directory" \
                "is not world-executable); choose another GALERA_DIR" >&2
            return 1
        fi
    fi
    # Only the bootstrap node needs a system database; the others receive
    # node 0's by state transfer.
    mariadb-install-db --defaults-file="$(node_dir 0)/my.cnf" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$(node_dir 0)/install.log" 2>&1 || {
        cat "$(node_dir 0)/install.log" >&2; return 1; }
    launch 0 --wsrep-new-cluster
    wait_synced 0
    # root@127.0.0.1 (TCP) without a password, like the system server.
    mysql --no-defaults -S "$(node_dir 0)/mysqld.sock" -uroot -e \
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
         GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
         CREATE DATABASE IF NOT EXISTS test;"
    for i in $(seq 1 $((NODES - 1))); do
        launch "$i"
        wait_synced "$i"
    done
    local size
    size=$(wsrep_var 0 wsrep_cluster_size)
    [ "$size" = "$NODES" ] || { echo "galera: cluster size $size" >&2; return 1; }
    echo "galera: $NODES nodes Synced in $DIR ($(cmd_urls))"
}

cmd_stop() {
    for i in $(seq $((NODES - 1)) -1 0); do
        stop_node "$i"
    done
}

cmd_status() {
    local rc=0
    for i in $(seq 0 $((NODES - 1))); do
        if alive "$i"; then
            echo "node$i pid=$(pid_of "$i") port=$(sql_port "$i")" \
                "size=$(wsrep_var "$i" wsrep_cluster_size)" \
                "state=$(wsrep_var "$i" wsrep_local_state_comment)"
        else
            echo "node$i down"
            rc=1
        fi
    done
    return $rc
}

cmd_urls() {
    local urls=""
    for i in $(seq 0 $((NODES - 1))); do
        urls="$urls${urls:+,}mysql+pymysql://root@127.0.0.1:$(sql_port "$i")/test"
    done
    echo "$urls"
}

node_arg() {
    [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -lt "$NODES" ] || {
        echo "galera: node number 0-$((NODES - 1)) required" >&2; exit 2; }
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    urls) cmd_urls ;;
    stop-node) node_arg "${2:-}"; stop_node "$2" ;;
    kill-node) node_arg "${2:-}"; kill_node "$2" ;;
    start-node) node_arg "${2:-}"; start_node "$2" ;;
    *) echo "usage: $0 start|stop|status|urls|stop-node N|kill-node N|start-node N" >&2; exit 2 ;;
esac
