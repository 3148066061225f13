# syntax=docker/dockerfile:1
# The OAuth credential service: on PostgreSQL with DATABASE_URL, else on the embedded PGlite
# database in the volume /data. Build: docker build -t oauth-credential-service .
# Stages: build (all dependencies, prisma generate + tsc), prod-deps (runtime dependencies
# only), runtime (those two, the migrations, a non-root user).

FROM node:24-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script (package.json allowScripts), and the
# postinstall `prisma generate` needs the schema: it runs in `npm run build` below.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/no-schema-engine.sh ./scripts/
COPY prisma ./prisma
COPY src ./src
# prisma generate (offline: prisma.config.ts points it at scripts/no-schema-engine.sh) + tsc;
# the generated client is compiled into dist/src/generated.
RUN npm run build

FROM node:24-bookworm-slim AS prod-deps
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional as well: the Prisma CLI and TypeScript are dev dependencies here but also
# optional peers of @prisma/client, which npm would otherwise keep (with their ~250 MB).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
# DATA_DIR: without DATABASE_URL the service keeps its embedded PGlite database in the volume
# /data, which the `node` user owns (a new named volume takes that owner from the image).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
WORKDIR /app
RUN install -d -o node -g node -m 0700 /data
VOLUME /data
# package.json marks the project root: src/paths.ts finds prisma/migrations beside it.
COPY package.json ./
COPY prisma/migrations ./prisma/migrations
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's own `node` user (uid 1000); it writes only to /data, and only without DATABASE_URL.
USER node
EXPOSE 3000
# Ready = the database answers. No curl in slim images: Node's fetch does the request.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1 with its own SIGTERM/SIGINT handlers (src/server.ts): it drains requests,
# closes the database and exits 0. It starts no child processes, so there are no zombies to reap.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/server.js"]
