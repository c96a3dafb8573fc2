# One image for both roles: the server (default) or the workers (the same command with `--role worker`).
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly; dev dependencies (tests, lint) are left out.
RUN npm ci --omit=dev --no-audit --no-fund
COPY protocol ./protocol
COPY bin ./bin
COPY core ./core
COPY server ./server
COPY workers ./workers
COPY client ./client
COPY tsconfig.json ./
EXPOSE 3000
# node itself is PID 1 (no npm or shell in between), so `docker stop`'s SIGTERM reaches the server
# and starts its graceful shutdown.
CMD ["node", "--import", "tsx", "bin/livecart.ts", "--role", "server"]
