package postgres

// The catalogue queries of the helpers. The fake returns results for
// exactly these, so a helper that needs another query must add it here and
// to the fake.
const (
	sqlRole = `select rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin ` +
		`from pg_catalog.pg_roles where rolname = $1`
	sqlRolePassword = `select rolpassword from pg_catalog.pg_authid where rolname = $1`
	sqlDatabase     = `select d.datname, r.rolname as owner, pg_catalog.pg_encoding_to_char(d.encoding) as encoding ` +
		`from pg_catalog.pg_database d join pg_catalog.pg_roles r on r.oid = d.datdba where d.datname = $1`
	sqlDatabasePrivilege = `select pg_catalog.has_database_privilege($1, $2, $3) as granted`
	sqlSchemaPrivilege   = `select pg_catalog.has_schema_privilege($1, $2, $3) as granted`
	sqlSetting           = `select setting, unit, vartype, context, pending_restart ` +
		`from pg_catalog.pg_settings where name = $1`
	sqlFileSetting = `select setting from pg_catalog.pg_file_settings ` +
		`where name = $1 and sourcefile like '%postgresql.auto.conf' order by seqno desc limit 1`
	sqlReload     = `select pg_catalog.pg_reload_conf() as reloaded`
	sqlPing       = `select 1 as ok`
	sqlConfigPath = `select pg_catalog.current_setting($1) as path`
)
