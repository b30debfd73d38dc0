#!/bin/sh
# Entry point of the managed-database look-alikes that tests/managed starts
# in containers of cocalcctl-test/postgres:17. Not shipped: a test fixture.
#
#   lookalike.sh rds       PostgreSQL as Amazon RDS presents it
#   lookalike.sh supabase  PostgreSQL behind two PgBouncer poolers, as Supabase
#
# The test copies these files into /fixture before the container starts:
#   server.crt, server.key  the server's certificate (from a CA that is not in
#                           the system store, naming only the server's DNS name)
#   admin_password          the password of the administrator role "postgres"
#   project_ref             (supabase) the project reference in pooler user names
#   databases               (supabase) lines "DATABASE ROLE": the server role each
#                           database's pooler connections log in as
#
# rds: the bootstrap superuser is rdsadmin, reachable only over the Unix
# socket. The administrator "postgres" has CREATEROLE and CREATEDB but is no
# superuser, and belongs to rds_superuser (which holds pg_monitor). pg_hba.conf
# admits TCP connections with TLS only (hostssl), with SCRAM passwords.
#
# supabase: PostgreSQL listens on 127.0.0.1:5433 only, so the server itself
# cannot be reached from outside the container (as Supabase's direct host
# cannot be reached from an IPv4 network). Two PgBouncer processes listen with
# TLS: a session pooler on 5432 and a transaction pooler on 6543. A client
# logs in as "ROLE.PROJECTREF" with ROLE's password, which the poolers read
# with auth_query through pgbouncer.get_auth. PgBouncer cannot derive the
# server role from the client's user name as Supabase's pooler does, so each
# database's connections log in as the role the databases file names. The
# poolers reach PostgreSQL over TLS, which trusts them (127.0.0.1 only).
# The user "stats" (password "stats") may read the poolers' SHOW commands.
set -eu

kind=$1
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
bin=/usr/lib/postgresql/$version/bin
data=/var/lib/postgresql/lookalike
tls=/var/lib/postgresql/tls

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

install -d -o postgres -g postgres -m 700 "$data" "$tls"
install -d -o postgres -g postgres -m 755 /var/run/postgresql
install -o postgres -g postgres -m 600 /fixture/server.crt /fixture/server.key "$tls/"

case "$kind" in
rds)
    superuser=rdsadmin
    options="-c listen_addresses=0.0.0.0 -c port=5432"
    hba="local all rdsadmin trust
hostssl all all 0.0.0.0/0 scram-sha-256
hostssl all all ::/0 scram-sha-256"
    socket_port=5432
    ;;
supabase)
    superuser=supabase_admin
    options="-c listen_addresses=127.0.0.1 -c port=5433"
    hba="local all supabase_admin trust
hostssl all all 127.0.0.1/32 trust"
    socket_port=5433
    ;;
*)
    echo "lookalike.sh: unknown kind $kind; want rds or supabase" >&2
    exit 2
    ;;
esac
options="$options -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key -c password_encryption=scram-sha-256"

as_postgres "$bin/initdb" -D "$data" --username="$superuser" --auth-local=trust --auth-host=reject \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
printf '%s\n' "$hba" >"$data/pg_hba.conf"

# The set-up runs on a server that listens on the Unix socket only, so a
# client that waits for the TCP ports finds the final server.
as_postgres "$bin/pg_ctl" -D "$data" -w -s -o "$options -c listen_addresses=" start
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$socket_port" -U "$superuser" -d postgres "$@"; }

case "$kind" in
rds)
    psql_admin <<'SQL'
\set password `cat /fixture/admin_password`
CREATE ROLE rds_superuser NOLOGIN;
GRANT pg_monitor, pg_signal_backend TO rds_superuser;
CREATE ROLE postgres LOGIN CREATEROLE CREATEDB PASSWORD :'password' IN ROLE rds_superuser;
SQL
    ;;
supabase)
    psql_admin <<'SQL'
\set password `cat /fixture/admin_password`
\set ref `cat /fixture/project_ref`
CREATE ROLE postgres LOGIN CREATEROLE CREATEDB PASSWORD :'password';
CREATE ROLE pgbouncer LOGIN;
CREATE SCHEMA pgbouncer AUTHORIZATION supabase_admin;
-- The verifier of ROLE for the pooler user ROLE.REF, and nothing for any
-- other name, so a user name without this project's reference cannot log in.
SELECT format($f$
CREATE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE (username text, password text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $body$
  SELECT p_usename, rolpassword::text FROM pg_authid
  WHERE rolcanlogin AND right(p_usename, %s) = %L
    AND rolname = left(p_usename, length(p_usename) - %s)
$body$$f$, length(:'ref') + 1, '.' || :'ref', length(:'ref') + 1) \gexec
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO pgbouncer;
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer;
SQL
    ;;
esac
as_postgres "$bin/pg_ctl" -D "$data" -w -s stop

if [ "$kind" = supabase ]; then
    install -d -o postgres -g postgres -m 700 /etc/pgbouncer/lookalike
    printf '"stats" "stats"\n' >/etc/pgbouncer/lookalike/userlist.txt
    for pool in session:5432 transaction:6543; do
        mode=${pool%%:*}
        port=${pool##*:}
        {
            echo "[databases]"
            while read -r database role; do
                [ -n "$database" ] && echo "$database = host=127.0.0.1 port=5433 dbname=$database user=$role"
            done </fixture/databases
            cat <<INI
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = $port
unix_socket_dir =
pool_mode = $mode
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/lookalike/userlist.txt
auth_user = pgbouncer
auth_dbname = postgres
auth_query = SELECT username, password FROM pgbouncer.get_auth(\$1)
admin_users = stats
stats_users = stats
client_tls_sslmode = require
client_tls_cert_file = $tls/server.crt
client_tls_key_file = $tls/server.key
server_tls_sslmode = require
ignore_startup_parameters = extra_float_digits
pidfile = /etc/pgbouncer/lookalike/$mode.pid
INI
        } >/etc/pgbouncer/lookalike/$mode.ini
    done
    chown -R postgres:postgres /etc/pgbouncer/lookalike
    chmod 600 /etc/pgbouncer/lookalike/*
    # In the background, not daemonized, so their log reaches docker logs.
    as_postgres /usr/sbin/pgbouncer /etc/pgbouncer/lookalike/session.ini &
    as_postgres /usr/sbin/pgbouncer /etc/pgbouncer/lookalike/transaction.ini &
fi

echo "lookalike.sh: $kind ready to start"
# shellcheck disable=SC2086
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" $options
