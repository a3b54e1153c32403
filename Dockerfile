# ehr-ledger node image: one image for every hospital node.
# The workspace keeps its layout (Node 24 runs the TypeScript sources directly, and refuses to
# strip types inside node_modules, so packages stay linked from packages/). The build stage
# installs production dependencies from the lockfile; the runtime stage runs unprivileged.
# NODE_IMAGE: any Debian-based image with Node 24 and npm (test/harness/docker-base.sh builds a
# local stand-in where Docker Hub is out of reach).
ARG NODE_IMAGE=node:24-slim
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY packages ./packages
RUN pnpm install --frozen-lockfile --prod

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN groupadd --system ehr && useradd --system --gid ehr --home-dir /app ehr \
 && mkdir -p /data && chown ehr:ehr /data
WORKDIR /app
COPY --from=build --chown=ehr:ehr /app ./
USER ehr
VOLUME ["/data"]
ENTRYPOINT ["node", "packages/cli/src/bin.ts"]
CMD ["--help"]
