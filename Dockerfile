# syntax=docker/dockerfile:1
# Three stages: build (npm ci, with the native better-sqlite3 build; its postinstall builds dist/ as CI
# does, so every folder tsconfig.build.json includes is copied in), prune (drops dev dependencies), runtime.

FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
COPY test ./test
COPY testkit ./testkit
# The dashboard and GraphiQL page (Vite), built into dist/web by the same build.
COPY web ./web
RUN npm ci

FROM build AS prune
RUN npm prune --omit=dev

FROM node:22-bookworm-slim AS runtime
# Listening on every interface, the service starts only once an API key exists (or with CRAWLQ_ALLOW_OPEN=1):
#   docker run --rm -v crawlq-data:/data crawlq node dist/src/cli/main.js keys create NAME --admin
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATABASE_URL=file:/data/crawlq.db
WORKDIR /app
COPY --from=prune /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/prisma.config.ts /app/package.json ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node directly: SIGTERM from the runtime reaches the service with no npm in between (npm start would exec
# the same command); it applies migrations itself.
CMD ["node", "--max-old-space-size=256", "dist/src/main.js"]
