#!/usr/bin/env bash
# Container entry point of ingesta (ENTRYPOINT of the Dockerfile; see deploy/README.md).
#
#   entry_point.sh                         runs the default: node <app>/dist/cli/main.js --env prod --validar-calidad-datos
#   entry_point.sh --env dev --tables a b  arguments starting with "-" are ingesta flags: node <app>/dist/cli/main.js …
#   entry_point.sh demo [--size N]         the embedded demo (no variable needed)
#   entry_point.sh status|reset|help …     ingesta's other commands: node <app>/dist/cli/main.js status …
#   entry_point.sh CMD ARG…                any other command is run as given (after the same checks)
#
# Before running anything it
#   1. decides the environment: the command's `--env X` / `--env=X`, else INGESTA_ENV, else prod (this image's
#      default; INGESTA_ENV=prod is then exported so that ingesta, whose own default is local, agrees);
#   2. checks the variables that environment needs and lists EVERY missing one in a single error (exit 2):
#        all envs:  a source connection: DATABASE_URL (or --source-url), or DATABASE_HOST + DATABASE_NAME +
#                   DATABASE_USERNAME, or PGHOST + PGDATABASE + PGUSER (each field may come from either family, as
#                   ingesta resolves them field by field). No password is only a warning (IAM / trust auth, pgpass).
#        dev/prod:  BUCKET_URL, QUERY_RESULT_BUCKET, REGION_NAME (or AWS_REGION / AWS_DEFAULT_REGION);
#      `status` never reads the source and needs no variable here (ingesta shows what it can, names what it skipped,
#      and lists what it cannot do without); `reset` needs no source either, and in dev/prod BUCKET_URL and the region;
#   3. prints, on stderr, what it runs: the command line and the relevant variables, secrets masked as *** (never
#      a length or a prefix): DATABASE_PASSWORD, PGPASSWORD, AWS keys, the password of any URL (DATABASE_URL,
#      --source-url, …), and any literal occurrence of those secrets anywhere in the printed text;
#   4. exec's the command, so that it replaces this shell and receives SIGTERM/SIGINT directly (ingesta then cancels
#      cleanly and exits 130) and its exit code is the container's.
#
# It writes no file. Step 2 is skipped for `demo`, `status`, `help`, with --help/-h/--version/-V among the arguments, or with
# INGESTA_SKIP_ENV_CHECK=1 (e.g. to open a shell in the image).
# Its own lines go to stderr (stdout stays ingesta's: JSON events in CloudWatch); they are JSON lines too when
# ingesta's output is (--log-format json, INGESTA_LOG_FORMAT=json, or auto with stdout not a terminal).
set -euo pipefail

APP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly APP_DIR
readonly CLI="$APP_DIR/dist/cli/main.js"

# ---------------------------------------------------------------------------------------------------- the command
if [ "$#" -eq 0 ]; then
  set -- node "$CLI" --env prod --validar-calidad-datos
elif [[ "$1" == -* ]]; then
  set -- node "$CLI" "$@"
else
  case "$1" in
    demo | status | reset | help) set -- node "$CLI" "$@" ;;
  esac
fi
# ingesta's subcommand, if any (also when the command is spelt out: node <app>/dist/cli/main.js status …)
subcommand=""
if [ "$#" -ge 3 ] && [ "$1" = "node" ] && [ "$2" = "$CLI" ]; then subcommand=$3; fi

env_name=""
env_from=""
log_format=""
source_url=""
skip_check=0
no_password=0
prev=""
for arg in "$@"; do
  case "$prev" in
    --env) env_name=$arg; env_from="--env" ;;
    --log-format) log_format=$arg ;;
    --source-url) source_url=$arg ;;
  esac
  case "$arg" in
    --env=*) env_name=${arg#--env=}; env_from="--env" ;;
    --log-format=*) log_format=${arg#--log-format=} ;;
    --source-url=*) source_url=${arg#--source-url=} ;;
    --help | -h | --version | -V) skip_check=1 ;;
  esac
  prev=$arg
done
if [ "${INGESTA_SKIP_ENV_CHECK:-}" = "1" ]; then skip_check=1; fi
# `ingesta demo` runs an embedded PostgreSQL into a local DuckDB file: it needs no variable; `status` reads only what
# it finds and says what it skipped (ingesta itself names a missing BUCKET_URL); `help` reads nothing
case "$subcommand" in
  demo | status | help) skip_check=1 ;;
esac

if [ -z "$env_name" ]; then
  if [ -n "${INGESTA_ENV:-}" ]; then
    env_name=$INGESTA_ENV
    env_from="INGESTA_ENV"
  else
    env_name=prod
    env_from="image default (INGESTA_ENV=prod exported)"
    export INGESTA_ENV=prod
  fi
fi

if [ -z "$log_format" ]; then log_format=${INGESTA_LOG_FORMAT:-auto}; fi
json=0
if [ "$log_format" = "json" ] || { [ "$log_format" = "auto" ] && [ ! -t 1 ]; }; then json=1; fi

# ---------------------------------------------------------------------------------------------------- masking
# (pure bash, no sed/tr per value: the entry point should cost milliseconds, not a process per variable)

# the password of a URL, scheme://user:PASSWORD@host… (up to the last "@" of the word, so a raw "@" in it is
# covered too), into $url_pw
readonly URL_USERINFO='://([^/:@[:space:]]*):([^[:space:]]*)@'
readonly PASSWORD_PAIR='[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]=[^&[:space:]]*'
url_password() {
  url_pw=""
  if [[ "$1" =~ $URL_USERINFO ]]; then url_pw=${BASH_REMATCH[2]}; fi
}

secrets=()
for name in DATABASE_PASSWORD PGPASSWORD AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN; do
  if [ -n "${!name:-}" ]; then secrets+=("${!name}"); fi
done
for url in "${DATABASE_URL:-}" "$source_url"; do
  url_password "$url"
  if [ -n "$url_pw" ]; then secrets+=("$url_pw"); fi
done
# longest first: a secret that contains another one must be replaced whole, not around the shorter one
for ((i = 1; i < ${#secrets[@]}; i++)); do
  for ((j = i; j > 0 && ${#secrets[j - 1]} < ${#secrets[j]}; j--)); do
    swap=${secrets[j]}
    secrets[j]=${secrets[j - 1]}
    secrets[j - 1]=$swap
  done
done

# $1 with every secret replaced by ***, into $masked: literal occurrences of the known secrets, then the password
# of any URL (scheme://user:***@…) and of any password=… pair.
mask() {
  local text=$1 secret out match
  for secret in "${secrets[@]+"${secrets[@]}"}"; do
    text=${text//"$secret"/***}
  done
  out=""
  while [[ "$text" =~ $URL_USERINFO ]]; do
    match=${BASH_REMATCH[0]}
    out+="${text%%"$match"*}://${BASH_REMATCH[1]}:***@"
    text=${text#*"$match"}
  done
  text=$out$text
  out=""
  while [[ "$text" =~ $PASSWORD_PAIR ]]; do
    match=${BASH_REMATCH[0]}
    out+="${text%%"$match"*}${match%%=*}=***"
    text=${text#*"$match"}
  done
  masked=$out$text
}

# $1 as a JSON string literal, into $jstr
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[[:cntrl:]]/}
  jstr="\"$s\""
}

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# one line on stderr: plain text, or a JSON event shaped like ingesta's ({time, runId, type, …})
say() {
  local type=$1 extra=""
  mask "$2"
  if [ "$json" -eq 1 ]; then
    if [ "$type" = "error" ]; then extra=',"kind":"config","exitCode":2'; fi
    json_string "$masked"
    printf '{"time":"%s","runId":null,"type":"%s","source":"entry_point","message":%s%s}\n' "$(now)" "$type" "$jstr" "$extra" >&2
  else
    printf 'entry_point: %s\n' "$masked" >&2
  fi
}

# ---------------------------------------------------------------------------------------------------- checks
has() { [[ "${!1:-}" =~ [^[:space:]] ]]; }

case "$env_name" in
  local | dev | prod) ;;
  *)
    say error "unknown environment \"$env_name\" (from $env_from): use local, dev or prod. Nothing was run."
    exit 2
    ;;
esac

if [ "$skip_check" -eq 0 ]; then
  missing=()
  # reset changes only the destination's state: no source connection
  if [ "$subcommand" != "reset" ] && [ -z "$source_url" ] && ! has DATABASE_URL; then
    has DATABASE_HOST || has PGHOST || missing+=("DATABASE_HOST (or PGHOST)")
    has DATABASE_NAME || has PGDATABASE || missing+=("DATABASE_NAME (or PGDATABASE)")
    has DATABASE_USERNAME || has PGUSER || missing+=("DATABASE_USERNAME (or PGUSER)")
  fi
  source_missing=${#missing[@]}
  if [ "$env_name" != "local" ]; then
    has BUCKET_URL || missing+=("BUCKET_URL (s3://bucket/prefix where the data lives)")
    has QUERY_RESULT_BUCKET || [ "$subcommand" = "reset" ] || missing+=("QUERY_RESULT_BUCKET (s3://… for Athena query results)")
    has REGION_NAME || has AWS_REGION || has AWS_DEFAULT_REGION || missing+=("REGION_NAME (or AWS_REGION)")
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    message="--env $env_name needs these environment variables, which are not set: $(printf '%s; ' "${missing[@]}")"
    message=${message%; }.
    if [ "$source_missing" -gt 0 ]; then
      message+=" The source connection is DATABASE_URL (or --source-url), or DATABASE_HOST + DATABASE_NAME + DATABASE_USERNAME (+ DATABASE_PASSWORD), or PGHOST + PGDATABASE + PGUSER (+ PGPASSWORD)."
    fi
    say error "$message Nothing was run."
    exit 2
  fi

  url_pw=""
  if [ -n "$source_url" ]; then url_password "$source_url"; elif has DATABASE_URL; then url_password "$DATABASE_URL"; fi
  if [ "$subcommand" != "reset" ] && [ -z "$url_pw" ] && [ -z "${DATABASE_PASSWORD:-}" ] && [ -z "${PGPASSWORD:-}" ] && [ -z "${PGPASSFILE:-}" ]; then
    no_password=1
  fi
fi

# ---------------------------------------------------------------------------------------------------- what runs
plain_vars=(INGESTA_ENV INGESTA_LOG_FORMAT INGESTA_DATASET INGESTA_CATALOG DUCKDB_PATH
  DATABASE_HOST DATABASE_PORT DATABASE_NAME DATABASE_USERNAME PGHOST PGPORT PGDATABASE PGUSER PGSSLMODE PGSSLROOTCERT PGPASSFILE
  BUCKET_URL QUERY_RESULT_BUCKET REGION_NAME AWS_REGION AWS_DEFAULT_REGION ATHENA_WORK_GROUP AWS_DATA_CATALOG
  AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_ATHENA AWS_ENDPOINT_URL_GLUE AWS_PROFILE NODE_ENV)
secret_vars=(DATABASE_PASSWORD PGPASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN)

command_line=""
for arg in "$@"; do
  if [[ -z "$arg" || "$arg" =~ [^A-Za-z0-9_./:=@%+,-] ]]; then
    arg="'${arg//\'/\'\\\'\'}'"
  fi
  command_line+="${command_line:+ }$arg"
done

if [ "$json" -eq 1 ]; then
  args_json=""
  for arg in "$@"; do
    mask "$arg"
    json_string "$masked"
    args_json+="${args_json:+,}$jstr"
  done
  vars_json=""
  for name in DATABASE_URL "${plain_vars[@]}"; do
    if [ -n "${!name+set}" ]; then
      mask "${!name}"
      json_string "$masked"
      vars_json+="${vars_json:+,}\"$name\":$jstr"
    fi
  done
  for name in "${secret_vars[@]}"; do
    if [ -n "${!name+set}" ]; then vars_json+="${vars_json:+,}\"$name\":\"***\""; fi
  done
  json_string "$env_from"
  printf '{"time":"%s","runId":null,"type":"container_start","source":"entry_point","env":"%s","envFrom":%s,"command":[%s],"variables":{%s}}\n' \
    "$(now)" "$env_name" "$jstr" "$args_json" "$vars_json" >&2
else
  say info "env $env_name (from $env_from)"
  say info "running: $command_line"
  for name in DATABASE_URL "${plain_vars[@]}"; do
    if [ -n "${!name+set}" ]; then say info "  $name=${!name}"; fi
  done
  for name in "${secret_vars[@]}"; do
    if [ -n "${!name+set}" ]; then say info "  $name=***"; fi
  done
fi

if [ "$no_password" -eq 1 ]; then
  say warning "no database password is set (DATABASE_PASSWORD, PGPASSWORD or in the URL): connecting without one (IAM token, trust auth or ~/.pgpass)."
fi

exec "$@"
