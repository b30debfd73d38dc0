#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster on this machine for the
# integration tests of the postgres module.
#
#   hostserver.sh start DIR    create a cluster in DIR and start it
#   hostserver.sh stop DIR     stop it (DIR stays; remove it yourself)
#
# start prints "port=N", "socket=FOLDER", "log=FILE" and "tls=FOLDER" lines.
# The server listens on 127.0.0.1 only, has TLS on and writes its log to
# DIR/server.log. Settings come from the environment:
#
#   PORT       TCP port; default: a free one
#   TLS_DIR    folder with ca.crt, server.crt and server.key; default: a test
#              CA and a server certificate for localhost and db.test, made
#              with openssl in DIR/tls
#   HBA_FILE   pg_hba.conf to use; default: Unix socket trust, "hostssl ...
#              cert" for role certuser, "hostssl ... scram-sha-256" for all
#              others and a "hostnossl ... reject" line
#   KEY_MODE   mode of the server key; default 0600
#   STANDBY    1 starts the server as a standby with hot_standby off, so it
#              rejects every connection with SQLSTATE 57P03
#
# The cluster belongs to the postgres OS user when this runs as root,
# because initdb refuses to run as root. Needs the Debian packages
# postgresql-15 (or another version; set PG_BIN) and openssl.
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
	echo "hostserver.sh: no PostgreSQL server binaries found; install postgresql-15 or set PG_BIN" >&2
	exit 1
fi

as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	echo "hostserver.sh: found no free port" >&2
	exit 1
}

make_tls() {
	local dir=$1
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=hostserver test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,DNS:db.test\nextendedKeyUsage=serverAuth\n' >"$dir/ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 2 -extfile "$dir/ext" -out "$dir/server.crt" 2>/dev/null
}

start() {
	local dir port tls
	dir=$(realpath -m "$1")
	mkdir -p "$dir/run" "$dir/tls"
	port=${PORT:-$(free_port)}

	tls=${TLS_DIR:-}
	if [[ -z "$tls" ]]; then
		tls="$dir/tls-src"
		make_tls "$tls"
	fi
	cp "$tls/ca.crt" "$tls/server.crt" "$tls/server.key" "$dir/tls/"
	chmod 0700 "$dir/tls"
	chmod "${KEY_MODE:-0600}" "$dir/tls/server.key"
	if [[ $(id -u) -eq 0 ]]; then
		chown -R postgres:postgres "$dir"
	fi

	if ! as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1; then
		echo "hostserver.sh: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		exit 1
	fi

	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/run'
ssl = on
ssl_cert_file = '$dir/tls/server.crt'
ssl_key_file = '$dir/tls/server.key'
ssl_ca_file = '$dir/tls/ca.crt'
password_encryption = 'scram-sha-256'
fsync = off
EOF
	if [[ -n "${HBA_FILE:-}" ]]; then
		cp "$HBA_FILE" "$dir/data/pg_hba.conf"
	else
		cat >"$dir/data/pg_hba.conf" <<EOF
local     all  all       trust
hostssl   all  certuser  127.0.0.1/32  cert
hostssl   all  all       127.0.0.1/32  scram-sha-256
hostnossl all  all       127.0.0.1/32  reject
EOF
	fi
	if [[ "${STANDBY:-}" == 1 ]]; then
		echo "hot_standby = off" >>"$dir/data/postgresql.conf"
		touch "$dir/data/standby.signal"
	fi
	if [[ $(id -u) -eq 0 ]]; then
		chown -R postgres:postgres "$dir/data"
	fi

	echo "port=$port"
	echo "socket=$dir/run"
	echo "log=$dir/server.log"
	echo "tls=$tls"
	if ! as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >"$dir/pg_ctl.log" 2>&1; then
		echo "hostserver.sh: the server did not start; see $dir/server.log" >&2
		exit 2
	fi
}

stop() {
	local dir
	dir=$(realpath -m "$1")
	if [[ -f "$dir/data/postmaster.pid" ]]; then
		as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
}

case "${1:-}" in
start) start "${2:?usage: hostserver.sh start DIR}" ;;
stop) stop "${2:?usage: hostserver.sh stop DIR}" ;;
*)
	echo "usage: hostserver.sh start|stop DIR" >&2
	exit 2
	;;
esac
