# shellcheck shell=bash
#
# deploy/lib.sh: the shell functions behind deploy/up, deploy/down, deploy/check and
# tests/integration/run. Sourced by bash, never executed.
#
# One "stack" lives in one state directory STATE, and everything it runs is found again
# through pid files there, so a stack is stopped by process id and never by name:
#   STATE/pg/data            PostgreSQL cluster (owned by the postgres user when root)
#   STATE/pg/postgresql.log  its log
#   STATE/run/               PostgreSQL's unix socket, actiond.sock, actiond.pid
#   STATE/log/actiond.log    the workers' stdout and stderr
#   STATE/nginx/             nginx.conf, nginx.pid, error.log, access.log, tmp/,
#                            problems/ (nginx/problems/*.json, its error documents),
#                            web/ (the browser client), feed.sock (the live feed's
#                            publishing socket, which the workers talk to)
#                            demo/ (the demo app, a copy of demo/)
#
# Functions report a failure on stderr and return non-zero; they never exit (ad_die is
# for the scripts themselves), so deploy/check can carry on and summarise. Callers
# that want to stop at the first failure use `set -e` or `|| exit 1`.
#
# Knobs (environment):
#   AD_WORKER_WRAPPER  bash array: command prefix for the worker (valgrind ...)
#   AD_WORKER_WAIT     seconds to wait for the worker's socket (default 30)
#   AD_PG_FAST         1: a throw-away cluster (fsync off) for the tests
#   ACTIOND_FEED_REDIS  redis://HOST:PORT of a Redis server through which several nginx
#                      hosts share the live feed (docs/api.md, "Live feed"); default:
#                      none, the feed lives in this nginx's shared memory

AD_PACKAGES="build-essential autoconf automake libtool pkg-config libfcgi-dev
libjson-c-dev libpq-dev libssl-dev libcriterion-dev postgresql postgresql-contrib nginx-light
libnginx-mod-nchan redis-server spawn-fcgi apache2 curl python3 valgrind strace wrk clang-format
nodejs clang libclang-rt-14-dev npm chromium"

ad_log() { printf 'actiond: %s\n' "$*" >&2; }
ad_err() { printf 'actiond: error: %s\n' "$*" >&2; }
ad_die() { ad_err "$*"; exit 1; }

ad_is_root() { [ "$(id -u)" -eq 0 ]; }

# Prints the absolute form of directory $1 (which must exist).
ad_abs_dir() { (cd "$1" && pwd -P); }

# Checks that path $1 is safe to splice into sed expressions, libpq URIs and
# postgresql.conf: letters, digits and / . _ - only.
ad_check_path() {
    case $1 in
    *[!A-Za-z0-9/._-]*)
        ad_err "path '$1' has characters other than letters, digits and / . _ -;" \
            "choose another directory (ACTIOND_STATE_DIR)"
        return 1
        ;;
    esac
}

# ---------------------------------------------------------------------------------
# packages

# ad_pkg_installed NAME: package NAME is installed, or an installed package provides it
# (NodeSource's nodejs provides npm: installing Debian's npm would replace that nodejs).
ad_pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ] && return 0
    dpkg-query -W -f='${Status}\t${Provides}\n' 2>/dev/null | awk -F '\t' -v p="$1" '
        $1 == "install ok installed" {
            n = split($2, a, /, */)
            for (i = 1; i <= n; i++) { sub(/ .*/, "", a[i]); if (a[i] == p) found = 1 }
        }
        END { exit !found }'
}

# Installs whichever of AD_PACKAGES is missing. As a non-root user, only reports them.
# Package scripts normally start a service they install (the system nginx on port 80,
# the default PostgreSQL cluster); a policy-rc.d answering 101 ("action forbidden")
# prevents that for the duration of the install, as in Debian's container images.
ad_ensure_packages() {
    local missing=() p policy=/usr/sbin/policy-rc.d ours=0 rc=0
    command -v dpkg-query >/dev/null 2>&1 ||
        { ad_err "dpkg-query not found: deploy/ expects Debian 12"; return 1; }
    for p in $AD_PACKAGES; do
        ad_pkg_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! ad_is_root; then
        ad_err "missing packages: ${missing[*]}"
        ad_err "install them as root: apt-get install ${missing[*]}"
        return 1
    fi
    ad_log "installing ${missing[*]}"
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# written by actiond deploy/lib.sh during apt-get install\nexit 101\n' \
            >"$policy" && chmod 0755 "$policy" && ours=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" || rc=1
    [ "$ours" -eq 1 ] && rm -f "$policy"
    [ "$rc" -eq 0 ] || ad_err "apt-get install failed"
    return "$rc"
}

# ---------------------------------------------------------------------------------
# build

# ad_build SRC BUILDDIR [CONFIGURE_ARGS...]: an out-of-tree build of SRC in BUILDDIR.
# Runs autoreconf when SRC has no configure script or configure.ac/Makefile.am is
# newer, configure when BUILDDIR has no Makefile or was configured with other
# arguments, then make. The environment's CC and CFLAGS reach configure.
ad_build() {
    local src=$1 build=$2 stamp
    shift 2
    if [ -f "$src/Makefile" ]; then
        ad_err "$src was configured in-tree; run 'make distclean' there first" \
            "(deploy/ builds out of tree)"
        return 1
    fi
    if [ ! -x "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ] ||
        [ "$src/Makefile.am" -nt "$src/configure" ]; then
        ad_log "autoreconf in $src"
        mkdir -p "$src/m4" || return 1
        (cd "$src" && autoreconf -fi) || { ad_err "autoreconf failed"; return 1; }
    fi
    mkdir -p "$build" || return 1
    stamp="${CC:-} ${CFLAGS:-} $*"
    if [ ! -f "$build/Makefile" ] ||
        [ "$(cat "$build/.actiond-configure" 2>/dev/null)" != "$stamp" ]; then
        ad_log "configure $* in $build"
        (cd "$build" && "$src/configure" "$@" >configure.out 2>&1) || {
            tail -n 30 "$build/configure.out" >&2
            ad_err "configure failed (full output: $build/configure.out, $build/config.log)"
            return 1
        }
        printf '%s\n' "$stamp" >"$build/.actiond-configure"
    fi
    ad_log "make in $build"
    make -C "$build" -j"$(nproc 2>/dev/null || echo 2)" || { ad_err "make failed"; return 1; }
    if [ ! -x "$build/actiond" ] || [ ! -x "$build/actionctl" ]; then
        ad_err "the build made no actiond/actionctl in $build"
        return 1
    fi
}

# ---------------------------------------------------------------------------------
# processes and ports

# ad_pid_alive PID PATTERN: PID is running (not a zombie) and its command line contains
# PATTERN, so a pid file left over from a reboot never names someone else's process.
ad_pid_alive() {
    local pid=$1 pattern=$2 state cmdline
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null)
    case $state in Z* | '') return 1 ;; esac
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    case $cmdline in *"$pattern"*) return 0 ;; esac
    return 1
}

# ad_pidfile_alive FILE PATTERN: prints the pid recorded in FILE when it is alive.
ad_pidfile_alive() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(head -n1 "$1" 2>/dev/null | tr -dc '0-9')
    ad_pid_alive "$pid" "$2" || return 1
    printf '%s\n' "$pid"
}

# ad_port_busy PORT: something accepts connections on 127.0.0.1:PORT.
ad_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ad_free_port START: prints the first port from START on (50 tries) that nobody uses.
ad_free_port() {
    local p=$1
    while [ "$p" -lt $(($1 + 50)) ]; do
        if ! ad_port_busy "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
        p=$((p + 1))
    done
    ad_err "no free port in $1..$(($1 + 49))"
    return 1
}

# ad_wait_gone PID PATTERN SECONDS: waits until PID has exited.
ad_wait_gone() {
    local i=0
    while ad_pid_alive "$1" "$2"; do
        [ "$i" -ge $(($3 * 10)) ] && return 1
        sleep 0.1
        i=$((i + 1))
    done
}

# ---------------------------------------------------------------------------------
# PostgreSQL: our own cluster under STATE/pg, never the system one

# Prints the newest /usr/lib/postgresql/*/bin.
ad_pg_bindir() {
    local d best=
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        if [ -z "$best" ] ||
            [ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1)" = "$d" ]; then
            best=$d
        fi
    done
    [ -n "$best" ] || { ad_err "no PostgreSQL under /usr/lib/postgresql"; return 1; }
    printf '%s\n' "$best"
}

# ad_as_pg CMD...: runs CMD as the cluster's owner. initdb and postgres refuse to run
# as root, so as root that is the postgres user; otherwise the invoking user. Runs
# from / because PostgreSQL's tools fail in a working directory they cannot read.
ad_as_pg() {
    if ad_is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# ad_pg_chown PATH...: gives PATHs to the postgres user when running as root.
ad_pg_chown() {
    if ad_is_root; then chown postgres:postgres "$@"; fi
}

# ad_check_reachable USER DIR: USER can traverse every directory down to DIR.
ad_check_reachable() {
    local user=$1 dir=$2
    ad_is_root || return 0
    if ! (cd / && runuser -u "$user" -- test -x "$dir"); then
        ad_err "user $user cannot reach $dir (a parent directory is not searchable by" \
            "others); choose a state directory elsewhere with ACTIOND_STATE_DIR"
        return 1
    fi
}

# ad_pg_running STATE
ad_pg_running() {
    local bin
    [ -f "$1/pg/data/PG_VERSION" ] || return 1
    bin=$(ad_pg_bindir) || return 1
    ad_as_pg "$bin/pg_ctl" -D "$1/pg/data" status >/dev/null 2>&1
}

# ad_pg_init STATE: creates the cluster unless it exists. Local (unix socket)
# connections are trusted: the socket is mode 0700 in a directory only the cluster
# owner writes, so only that user (and root) reach it. TCP on loopback needs a
# password (scram-sha-256); no role has one unless an operator sets it.
ad_pg_init() {
    local state=$1 bin
    [ -f "$state/pg/data/PG_VERSION" ] && return 0
    bin=$(ad_pg_bindir) || return 1
    mkdir -p "$state/pg" "$state/run" || return 1
    chmod 0700 "$state/pg" && chmod 0755 "$state/run" || return 1
    ad_pg_chown "$state/pg" "$state/run" || return 1
    ad_check_reachable postgres "$state/pg" || return 1
    ad_log "initdb $state/pg/data"
    if ! ad_as_pg "$bin/initdb" -D "$state/pg/data" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >"$state/pg/initdb.log" 2>&1; then
        cat "$state/pg/initdb.log" >&2
        ad_err "initdb failed"
        return 1
    fi
    {
        printf '\n# actiond: port, sockets and addresses are written by deploy/lib.sh\n'
        printf "include 'actiond.conf'\n"
    } >>"$state/pg/data/postgresql.conf"
}

# ad_pg_configure STATE PORT: (re)writes STATE/pg/data/actiond.conf.
ad_pg_configure() {
    local state=$1 port=$2 f=$1/pg/data/actiond.conf
    {
        printf '# written by deploy/lib.sh at every start; edit postgresql.conf instead\n'
        printf "listen_addresses = '127.0.0.1'\n"
        printf 'port = %s\n' "$port"
        printf "unix_socket_directories = '%s'\n" "$state/run"
        printf 'unix_socket_permissions = 0700\n'
        # Every log append after a checkpoint writes its key's leaf page whole, one per
        # resource written; compressed they take about 40% less WAL (docs/performance.md,
        # "Settings the measurements chose")
        printf 'wal_compression = lz4\n'
        if [ "${AD_PG_FAST:-0}" = 1 ]; then
            printf '# a throw-away test cluster: durability is not needed\n'
            printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
        fi
    } >"$f" || return 1
    ad_pg_chown "$f"
}

# glibc's allocator settings for the cluster's processes. By default a backend gives
# the top of its heap back to the kernel whenever 128 KB of it are free, and an
# action's statement takes and frees about that much: four brk calls per transaction,
# each shrink a TLB flush on every CPU (docs/performance.md, "Settings the measurements
# chose").
# AD_PG_MALLOC overrides it; empty keeps glibc's defaults.
AD_PG_MALLOC_DEFAULT=glibc.malloc.trim_threshold=8388608:glibc.malloc.mmap_threshold=4194304

# ad_pg_start STATE PORT: starts the cluster unless it runs.
ad_pg_start() {
    local state=$1 port=$2 bin
    ad_pg_running "$state" && return 0
    bin=$(ad_pg_bindir) || return 1
    if ad_port_busy "$port"; then
        ad_err "port $port is in use by another program; set another PostgreSQL port"
        AD_PORT_TAKEN=1
        return 1
    fi
    ad_pg_configure "$state" "$port" || return 1
    ad_log "starting PostgreSQL on port $port (socket in $state/run)"
    if ! ad_as_pg env GLIBC_TUNABLES="${AD_PG_MALLOC-$AD_PG_MALLOC_DEFAULT}" \
        "$bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/postgresql.log" \
        -w -t 60 start >/dev/null; then
        tail -n 20 "$state/pg/postgresql.log" >&2
        ad_err "PostgreSQL did not start"
        return 1
    fi
}

# ad_pg_stop STATE: stops the cluster if it runs (fast shutdown).
ad_pg_stop() {
    local state=$1 bin
    ad_pg_running "$state" || return 0
    bin=$(ad_pg_bindir) || return 1
    ad_log "stopping PostgreSQL in $state/pg/data"
    ad_as_pg "$bin/pg_ctl" -D "$state/pg/data" -m fast -w -t 60 stop >/dev/null
}

# ad_pg_port STATE: the port the cluster was last configured with.
ad_pg_port() {
    sed -n 's/^port = \([0-9]*\)$/\1/p' "$1/pg/data/actiond.conf" 2>/dev/null
}

# ad_db_url STATE PORT ROLE: a libpq URI over the unix socket.
ad_db_url() {
    printf 'postgresql:///actiond?host=%s&port=%s&user=%s\n' "$1/run" "$2" "$3"
}

# ad_psql_super STATE PORT [PSQL_ARGS...]: psql as the superuser, database postgres.
ad_psql_super() {
    local state=$1 port=$2 bin
    shift 2
    bin=$(ad_pg_bindir) || return 1
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$state/run" -p "$port" -U postgres -d postgres "$@"
}

# ad_pg_bootstrap STATE PORT: the owner role and the database (idempotent). The
# migrations, run as actiond_owner, create everything else, including actiond_app.
ad_pg_bootstrap() {
    ad_psql_super "$1" "$2" -f - <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'actiond_owner') THEN
        CREATE ROLE actiond_owner LOGIN CREATEROLE;
    END IF;
END
$$;
SELECT 'CREATE DATABASE actiond OWNER actiond_owner'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'actiond')
\gexec
SQL
}

# ad_migrate BUILD SRC STATE PORT: applies SRC/sql with actionctl as actiond_owner.
ad_migrate() {
    local build=$1 src=$2 state=$3 port=$4
    ad_log "migrating ($src/sql)"
    DATABASE_URL=$(ad_db_url "$state" "$port" actiond_owner) \
        "$build/actionctl" migrate --dir "$src/sql" ||
        { ad_err "actionctl migrate failed"; return 1; }
}

# ad_token BUILD STATE PORT ACTOR: prints a new bearer token for ACTOR.
ad_token() {
    local build=$1 state=$2 port=$3 actor=$4 out
    out=$(DATABASE_URL=$(ad_db_url "$state" "$port" actiond_owner) \
        "$build/actionctl" token create --actor "$actor") ||
        { ad_err "actionctl token create --actor $actor failed"; return 1; }
    out=$(printf '%s\n' "$out" | sed '/^[[:space:]]*$/d' | tail -n1)
    [ -n "$out" ] || { ad_err "actionctl token create printed no token"; return 1; }
    printf '%s\n' "$out"
}

# ---------------------------------------------------------------------------------
# the workers

# The user and group nginx's workers run as when the master is root; the FastCGI
# socket gets the same group.
ad_nginx_user() { printf 'nobody\n'; }
ad_nginx_group() { id -gn nobody 2>/dev/null || printf 'nogroup\n'; }

# ad_workers_pid STATE: prints the pid of the running worker parent.
ad_workers_pid() {
    ad_pidfile_alive "$1/run/actiond.pid" "$1/run/actiond.sock"
}

# ad_workers_start BUILD SRC STATE PORT WORKERS: starts `actiond` (prefork parent with
# WORKERS children; 0 means a single process) on STATE/run/actiond.sock unless it runs,
# and waits for the socket. With children, child n also listens on actiond.sock.<n>
# (--worker-sockets), where nginx sends the writes to one resource (see
# nginx/actiond.conf.in). The process runs in its own session so it outlives the
# script that started it; its pid goes to STATE/run/actiond.pid.
ad_workers_start() {
    local build=$1 src=$2 state=$3 port=$4 workers=$5
    local sock=$3/run/actiond.sock pid i n wait=${AD_WORKER_WAIT:-30} monitor= own=()
    local socks=("$sock")
    ad_workers_pid "$state" >/dev/null && return 0
    mkdir -p "$state/log" "$state/run" || return 1
    rm -f "$sock" "$sock".[0-9]*
    if [ "$workers" -gt 0 ]; then
        own=(--worker-sockets)
        for ((n = 0; n < workers; n++)); do
            socks+=("$sock.$n")
        done
    fi
    ad_log "starting actiond ($workers workers) on $sock"
    printf -- '--- %s actiond start\n' "$(date -u +%FT%TZ)" >>"$state/log/actiond.log"
    # without job control the background job is no process group leader, so setsid
    # makes the new session in place and $! stays the worker's own pid
    case $- in *m*) set +m; monitor=1 ;; esac
    setsid ${AD_WORKER_WRAPPER+"${AD_WORKER_WRAPPER[@]}"} "$build/actiond" \
        --listen "$sock" --socket-mode 0660 --workers "$workers" ${own[@]+"${own[@]}"} \
        --database "$(ad_db_url "$state" "$port" actiond_app)" \
        --catalog "$src/catalog/default.json" --feed "$state/nginx/feed.sock" \
        </dev/null >>"$state/log/actiond.log" 2>&1 &
    pid=$!
    [ -n "$monitor" ] && set -m
    printf '%s\n' "$pid" >"$state/run/actiond.pid"
    i=0
    # the parent opens every socket before it starts a child, in this order: the last
    # one there means all are
    n=${socks[${#socks[@]} - 1]}
    while [ ! -S "$n" ]; do
        # our own child: until it has exec'd, its command line is still this shell's
        if ! ad_pid_alive "$pid" ""; then
            tail -n 20 "$state/log/actiond.log" >&2
            ad_err "actiond exited at start (log: $state/log/actiond.log)"
            return 1
        fi
        if [ "$i" -ge $((wait * 10)) ]; then
            tail -n 20 "$state/log/actiond.log" >&2
            ad_err "actiond made no socket $n within ${wait}s"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    # created 0660 (--socket-mode); nginx's workers (see nginx/actiond.conf.in) reach it
    # through its group, and nobody else can open it
    if ad_is_root; then
        chgrp "$(ad_nginx_group)" "${socks[@]}" || return 1
    fi
}

# ad_workers_stop STATE [SECONDS]: SIGTERM to the worker parent, which lets its children
# finish the request in hand; SIGKILL after SECONDS (default 20). When the worker is a
# child of this shell, AD_WORKER_STATUS receives its exit status.
ad_workers_stop() {
    local state=$1 secs=${2:-20} pid
    AD_WORKER_STATUS=
    pid=$(ad_workers_pid "$state") || { rm -f "$state/run/actiond.pid"; return 0; }
    ad_log "stopping actiond (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    if ! ad_wait_gone "$pid" "$state/run/actiond.sock" "$secs"; then
        ad_err "actiond (pid $pid) still runs ${secs}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        ad_wait_gone "$pid" "$state/run/actiond.sock" 5
        AD_WORKER_STATUS=killed
    fi
    if [ -z "$AD_WORKER_STATUS" ]; then
        wait "$pid" 2>/dev/null
        AD_WORKER_STATUS=$?
    fi
    rm -f "$state/run/actiond.pid"
    [ "$AD_WORKER_STATUS" != killed ]
}

# ---------------------------------------------------------------------------------
# nginx: a private instance with its prefix in STATE/nginx

# ad_nginx_pid STATE
ad_nginx_pid() {
    ad_pidfile_alive "$1/nginx/nginx.pid" "$1/nginx"
}

# ad_nchan_module: prints the path of nchan's dynamic module for this nginx (Debian's
# libnginx-mod-nchan installs it in nginx's modules path).
ad_nchan_module() {
    local dir
    dir=$(nginx -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
    dir=${dir:-/usr/lib/nginx/modules}
    [ -f "$dir/ngx_nchan_module.so" ] ||
        { ad_err "no $dir/ngx_nchan_module.so: install libnginx-mod-nchan"; return 1; }
    printf '%s\n' "$dir/ngx_nchan_module.so"
}

# ad_nginx_conf SRC STATE HTTP_PORT: writes STATE/nginx/nginx.conf from the template,
# for the workers' sockets now in STATE/run (start the workers first), and copies the
# problem documents nginx answers its own errors with to STATE/nginx/problems and the
# browser client to STATE/nginx/web (nginx's unprivileged workers read them there: the
# source tree may be out of their reach). Prints "changed" when nginx.conf differs from
# what was there.
ad_nginx_conf() {
    local src=$1 state=$2 port=$3 dir=$2/nginx new sock=$2/run/actiond.sock pinned= n=0
    local module redis='' store='' d
    module=$(ad_nchan_module) || return 1
    mkdir -p "$dir/tmp" "$dir/problems" || return 1
    chmod 0755 "$dir" "$dir/tmp" "$dir/problems" || return 1
    rm -f "$dir/problems/"*.json
    install -m 0644 "$src/nginx/problems/"*.json "$dir/problems/" ||
        { ad_err "cannot copy $src/nginx/problems to $dir/problems"; return 1; }
    rm -rf "$dir/web"
    for d in web web/client web/engine; do
        if ! install -d -m 0755 "$dir/$d" || ! install -m 0644 "$src/$d/"*.js "$dir/$d/"; then
            ad_err "cannot copy $src/$d to $dir/$d"
            return 1
        fi
    done
    if [ -n "${ACTIOND_FEED_REDIS:-}" ]; then
        case $ACTIOND_FEED_REDIS in
        *[!A-Za-z0-9/:.@_-]*)
            ad_err "ACTIOND_FEED_REDIS has characters a redis:// URL of this form cannot have"
            return 1
            ;;
        esac
        redis="upstream actiond_feed_redis {\n        nchan_redis_server $ACTIOND_FEED_REDIS;\n    }"
        store="nchan_redis_pass actiond_feed_redis;"
    fi
    ad_nginx_demo "$src" "$state" || return 1
    # the workers' own sockets (ad_workers_start), or the shared one when there are none;
    # max_fails=0: see nginx/actiond.conf.in
    while [ -S "$sock.$n" ]; do
        pinned="$pinned${pinned:+\n        }server unix:$sock.$n max_fails=0;"
        n=$((n + 1))
    done
    [ -n "$pinned" ] || pinned="server unix:$sock max_fails=0;"
    new=$dir/nginx.conf.new
    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" \
        -e "s|@SOCKET@|$sock|g" -e "/^[[:space:]]*#/!s|@PINNED@|$pinned|g" \
        -e "s|@NGINX_USER@|$(ad_nginx_user) $(ad_nginx_group)|g" \
        -e "/^[[:space:]]*#/!s|@NCHAN_MODULE@|$module|g" \
        -e "/^[[:space:]]*#/!s|@FEED_REDIS@|$redis|g" \
        -e "/^[[:space:]]*#/!s|@FEED_STORE@|$store|g" \
        "$src/nginx/actiond.conf.in" >"$new" || return 1
    if ! ad_is_root; then
        sed -i '/^user /d' "$new" || return 1
    fi
    if cmp -s "$new" "$dir/nginx.conf"; then
        rm -f "$new"
    else
        mv "$new" "$dir/nginx.conf" && echo changed
    fi
}

# ad_nginx_demo SRC STATE: copies the demo app (SRC/demo: pages, styles, modules) to
# STATE/nginx/demo, which nginx serves at / and /demo/ (nginx's unprivileged workers
# read it there, as the problem documents).
ad_nginx_demo() {
    local dir=$2/nginx/demo
    rm -rf "$dir"
    if ! install -d -m 0755 "$dir" ||
        ! install -m 0644 "$1/demo/"*.html "$1/demo/"*.css "$1/demo/"*.js "$dir/"; then
        ad_err "cannot copy $1/demo to $dir"
        return 1
    fi
}

# ad_nginx_test STATE: nginx -t on the generated configuration.
ad_nginx_test() {
    local dir=$1/nginx
    nginx -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" ||
        { ad_err "nginx rejects $dir/nginx.conf"; return 1; }
}

# ad_nginx_start SRC STATE HTTP_PORT: writes the configuration and starts nginx, or
# reloads a running one whose configuration changed.
ad_nginx_start() {
    local src=$1 state=$2 port=$3 dir=$2/nginx pid changed i
    if ad_is_root; then
        ad_check_reachable "$(ad_nginx_user)" "$state/run" || return 1
    fi
    changed=$(ad_nginx_conf "$src" "$state" "$port") || return 1
    ad_nginx_test "$state" || return 1
    if pid=$(ad_nginx_pid "$state"); then
        if [ "$changed" = changed ]; then
            ad_log "reloading nginx (pid $pid)"
            kill -HUP "$pid"
        fi
        return 0
    fi
    if ad_port_busy "$port"; then
        ad_err "port $port is in use by another program; set another HTTP port"
        AD_PORT_TAKEN=1
        return 1
    fi
    ad_log "starting nginx on 127.0.0.1:$port"
    # a socket an nginx that did not stop cleanly left behind would stop this one binding
    rm -f "$dir/feed.sock"
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" ||
        { tail -n 20 "$dir/error.log" >&2; ad_err "nginx did not start"; return 1; }
    i=0
    until ad_port_busy "$port"; do
        [ "$i" -ge 100 ] && { ad_err "nginx does not listen on $port"; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
}

# ad_nginx_stop STATE: graceful stop (SIGQUIT), then SIGTERM after 10 seconds.
ad_nginx_stop() {
    local state=$1 pid
    pid=$(ad_nginx_pid "$state") || return 0
    ad_log "stopping nginx (pid $pid)"
    kill -QUIT "$pid" 2>/dev/null
    if ! ad_wait_gone "$pid" "$state/nginx" 10; then
        kill -TERM "$pid" 2>/dev/null
        ad_wait_gone "$pid" "$state/nginx" 5
    fi
}

# ---------------------------------------------------------------------------------
# a whole stack

# ad_stack_up BUILD SRC STATE PG_PORT HTTP_PORT WORKERS: cluster, database, migrations,
# workers and nginx, each started only when it is not running already.
ad_stack_up() {
    local build=$1 src=$2 state=$3 pgport=$4 httpport=$5 workers=$6
    ad_check_path "$state" || return 1
    if [ ${#state} -gt 80 ]; then
        ad_err "state directory path too long for unix sockets: $state"
        return 1
    fi
    mkdir -p "$state" || return 1
    ad_pg_init "$state" &&
        ad_pg_start "$state" "$pgport" &&
        ad_pg_bootstrap "$state" "$pgport" &&
        ad_migrate "$build" "$src" "$state" "$pgport" &&
        ad_workers_start "$build" "$src" "$state" "$pgport" "$workers" &&
        ad_nginx_start "$src" "$state" "$httpport"
}

# ad_stack_up_anywhere BUILD SRC STATE WORKERS: ad_stack_up on free loopback ports
# picked at random (PostgreSQL from 55433 on, HTTP from 18080 on, or from
# $ACTIOND_TEST_PG_PORT / $ACTIOND_TEST_HTTP_PORT when set). Another program can take a
# port between the check and the bind; then the stack is stopped and started again on
# other ports, up to 5 times.
ad_stack_up_anywhere() {
    local build=$1 src=$2 state=$3 workers=$4 try pgport httpport
    for try in 1 2 3 4 5; do
        pgport=$(ad_free_port "${ACTIOND_TEST_PG_PORT:-$((55433 + RANDOM % 2000))}") || return 1
        httpport=$(ad_free_port "${ACTIOND_TEST_HTTP_PORT:-$((18080 + RANDOM % 2000))}") ||
            return 1
        AD_PORT_TAKEN=0
        ad_stack_up "$build" "$src" "$state" "$pgport" "$httpport" "$workers" && return 0
        if [ "$AD_PORT_TAKEN" != 1 ] && ! grep -qs 'Address already in use' \
            "$state/pg/postgresql.log" "$state/nginx/error.log"; then
            return 1
        fi
        ad_log "a port was taken meanwhile; trying other ports (attempt $((try + 1)))"
        ad_stack_down "$state"
        rm -f "$state/pg/postgresql.log" "$state/nginx/error.log"
    done
    ad_err "no free ports after 5 attempts"
    return 1
}

# ad_stack_down STATE: stops nginx, then the workers, then PostgreSQL. Returns non-zero
# when a worker had to be killed.
ad_stack_down() {
    local rc=0
    ad_nginx_stop "$1"
    ad_workers_stop "$1" || rc=1
    ad_pg_stop "$1" || rc=1
    return "$rc"
}

# ad_write_pgctl SRC STATE FILE: writes FILE, a command `FILE stop|start|status` for
# this stack's cluster (the integration tests use it to simulate an outage).
ad_write_pgctl() {
    local src=$1 state=$2 file=$3 port lib
    port=$(ad_pg_port "$state")
    lib=$(printf '%q' "$src/deploy/lib.sh")
    cat >"$file" <<EOF || return 1
#!/bin/bash
# generated by deploy/lib.sh: stop, start or query the test cluster in $state
. $lib
AD_PG_FAST=${AD_PG_FAST:-0}
case \${1:-} in
stop) ad_pg_stop "$state" ;;
start) ad_pg_start "$state" "$port" ;;
status) ad_pg_running "$state" ;;
*) echo "usage: \$0 stop|start|status" >&2; exit 2 ;;
esac
EOF
    chmod 0755 "$file"
}

# ad_test_env BUILD SRC STATE: creates tokens for alice and bob and exports what the
# integration tests and tests/integration/load.py read (see tests/integration/client.py).
ad_test_env() {
    local build=$1 src=$2 state=$3 port bin
    port=$(ad_pg_port "$state")
    bin=$(ad_pg_bindir) || return 1
    ACTIOND_TOKEN=$(ad_token "$build" "$state" "$port" alice) || return 1
    ACTIOND_TOKEN_BOB=$(ad_token "$build" "$state" "$port" bob) || return 1
    ACTIOND_URL=http://127.0.0.1:$(ad_nginx_port "$state")/api
    DATABASE_URL=$(ad_db_url "$state" "$port" actiond_owner)
    ACTIOND_APP_DATABASE_URL=$(ad_db_url "$state" "$port" actiond_app)
    PSQL=$bin/psql
    ACTIOND_PG_CTL=$state/pgctl
    ad_write_pgctl "$src" "$state" "$ACTIOND_PG_CTL" || return 1
    ACTIOND_BUILD_DIR=$build
    ACTIOND_PID_FILE=$state/run/actiond.pid
    export ACTIOND_URL ACTIOND_TOKEN ACTIOND_TOKEN_BOB DATABASE_URL \
        ACTIOND_APP_DATABASE_URL PSQL ACTIOND_PG_CTL ACTIOND_BUILD_DIR ACTIOND_PID_FILE
}

# ad_nginx_port STATE: the port the stack's nginx listens on.
ad_nginx_port() {
    sed -n 's/^ *listen 127\.0\.0\.1:\([0-9]*\);$/\1/p' "$1/nginx/nginx.conf" | head -n1
}

# ad_logs_tail STATE [LINES]: the end of every log of the stack, for a failure report.
ad_logs_tail() {
    local f n=${2:-40}
    for f in "$1/log/actiond.log" "$1/nginx/error.log" "$1/pg/postgresql.log"; do
        [ -s "$f" ] || continue
        printf '\n----- last %s lines of %s -----\n' "$n" "$f" >&2
        tail -n "$n" "$f" >&2
    done
}
