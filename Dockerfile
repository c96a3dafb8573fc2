# One image for both roles: `npm run start:server` (default) or `npm run start:worker`.
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
CMD ["npm", "run", "start:server"]
