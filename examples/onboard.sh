#!/usr/bin/env bash
# onboard.sh: give every person in a CSV an API key with the scopes of their role.
#
#   examples/onboard.sh PEOPLE.csv ROLES.csv [OUT_DIR] [-- KEYCTL_APPLY_OPTIONS...]
#
# PEOPLE.csv  lines of `name,role` (e.g. `ana,engineer`). A `name,role` header line,
#             blank lines and lines starting with # are skipped. The name becomes the
#             key's name: letters, digits, . _ - @ (1 to 64 characters).
# ROLES.csv   lines of `role,scopes`, scopes separated by spaces
#             (e.g. `engineer,predict inputs.get inputs.patch`); same skipping rules.
# OUT_DIR     default ./onboarding. Gets team.toml (the manifest this script wrote)
#             and secrets/NAME.key, one file per NEW key holding its secret, mode 0600
#             in a 0700 folder. Hand each file to its owner, then delete it.
#
# What it does: writes the manifest, runs `keyctl apply OUT_DIR/team.toml --json`
# (the plan and the warnings appear on stderr) and writes the secrets of the keys it
# created. Running it again with the same CSV creates nothing; a new line in the CSV
# creates one key; a changed role updates that person's scopes. Options after `--` go
# to `keyctl apply`: `-- --dry-run` to review first, `-- --keyring` to put the secrets
# in the OS keyring instead of files. `-- --prune --yes` deletes named keys that are not
# in the CSV (without --yes apply asks at a terminal): use it only on a store that holds
# this team's keys and nothing else.
#
# Environment: KEYCTL, the command that runs keyctl (default `keyctl`; split on
# spaces, e.g. KEYCTL="python3 -m keyctl"); KEYCTL_DB and the other keyctl settings
# pass through; ONBOARD_JSON=jq|python chooses how the JSON answer is read (default:
# jq when it is installed, else python3, which keyctl needs anyway).
#
# Secrets never appear on a command line (only printf, a shell builtin, sees them) and
# never in a file other than their own 0600 file.
set -euo pipefail
set -f    # no globbing: a scope such as inputs.* must stay as written
umask 077 # every file and folder this script creates is private to its user

die() { printf 'onboard.sh: %s\n' "$*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: onboard.sh PEOPLE.csv ROLES.csv [OUT_DIR] [-- KEYCTL_APPLY_OPTIONS...]"
people=$1 roles_file=$2
shift 2
out_dir=./onboarding
if [ $# -gt 0 ] && [ "$1" != "--" ]; then out_dir=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
apply_options=("$@")

read -r -a keyctl_cmd <<<"${KEYCTL:-keyctl}"
json_tool=${ONBOARD_JSON:-}
if [ -z "$json_tool" ]; then
  if command -v jq >/dev/null 2>&1; then json_tool=jq; else json_tool=python; fi
fi
case $json_tool in jq | python) ;; *) die "ONBOARD_JSON must be jq or python, not '$json_tool'" ;; esac

[ -f "$people" ] && [ -r "$people" ] || die "cannot read $people"
[ -f "$roles_file" ] && [ -r "$roles_file" ] || die "cannot read $roles_file"

# Lines of a CSV file, trimmed, without CRs, blank lines, comments or the header.
csv_lines() { # FILE HEADER
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    line=$(printf '%s' "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
    case $line in '' | '#'* | "$2") continue ;; esac
    printf '%s\n' "$line"
  done <"$1"
}

# role -> "scope scope ..."
declare -A role_scopes=()
while IFS= read -r line; do
  role=${line%%,*}
  scopes=${line#*,}
  [ "$role" != "$line" ] || die "$roles_file: '$line' is not role,scopes"
  role=$(printf '%s' "$role" | tr -d '[:space:]')
  [[ $role =~ ^[A-Za-z0-9._-]+$ ]] || die "$roles_file: invalid role name '$role'"
  for scope in $scopes; do
    # Only characters a scope name can have: nothing that could break the TOML.
    [[ $scope =~ ^[A-Za-z0-9._:*-]+$ ]] || die "$roles_file: role $role: invalid scope '$scope'"
  done
  [ -n "${scopes// /}" ] || die "$roles_file: role $role has no scopes"
  role_scopes[$role]=$scopes
done < <(csv_lines "$roles_file" "role,scopes")

mkdir -p "$out_dir/secrets"
chmod 700 "$out_dir/secrets"
manifest=$out_dir/team.toml
declare -A seen=()
count=0
{
  printf '# Written by examples/onboard.sh from %s and %s; apply with `keyctl apply`.\n' "$people" "$roles_file"
  while IFS= read -r line; do
    name=${line%%,*}
    role=${line#*,}
    [ "$name" != "$line" ] || die "$people: '$line' is not name,role"
    name=$(printf '%s' "$name" | tr -d '[:space:]')
    role=$(printf '%s' "$role" | tr -d '[:space:]')
    [[ $name =~ ^[A-Za-z0-9._@-]{1,64}$ ]] || die "$people: invalid name '$name' (letters, digits, . _ - @)"
    [ -z "${seen[$name]:-}" ] || die "$people: $name appears twice"
    [ -n "${role_scopes[$role]:-}" ] || die "$people: $name: unknown role '$role' (not in $roles_file)"
    seen[$name]=1
    count=$((count + 1))
    printf '\n[keys."%s"]\nscopes = [' "$name"
    sep=""
    for scope in ${role_scopes[$role]}; do
      printf '%s"%s"' "$sep" "$scope"
      sep=", "
    done
    printf ']\ndescription = "%s (onboard.sh)"\n' "$role"
  done < <(csv_lines "$people" "name,role")
} >"$manifest"
[ "$count" -gt 0 ] || die "$people lists nobody"

# The plan and warnings go to stderr (the terminal); stdout is the JSON answer.
set +e
result=$("${keyctl_cmd[@]}" apply "$manifest" --json "${apply_options[@]}")
status=$?
set -e
if [ "$status" -ne 0 ]; then
  printf 'onboard.sh: keyctl apply failed (exit %s); the store is unchanged\n' "$status" >&2
  exit "$status"
fi

# "name<TAB>secret" for every created key whose secret was returned (none on a dry
# run or with --keyring).
new_secrets() {
  if [ "$json_tool" = jq ]; then
    printf '%s' "$result" | jq -r '.created[] | select(.secret != null) | [.name, .secret] | @tsv'
  else
    printf '%s' "$result" | python3 -c '
import json, sys
for c in json.load(sys.stdin)["created"]:
    if c["secret"]:
        print(c["name"], c["secret"], sep="\t")
'
  fi
}

written=0
while IFS=$'\t' read -r name secret; do
  file=$out_dir/secrets/$name.key
  rm -f "$file" # a file left from an earlier run may have other permissions
  printf '%s\n' "$secret" >"$file"
  chmod 600 "$file"
  printf 'wrote %s\n' "$file"
  written=$((written + 1))
done < <(new_secrets)

printf 'onboard.sh: %s people in %s; %s new secret file(s) in %s/secrets\n' \
  "$count" "$manifest" "$written" "$out_dir"
