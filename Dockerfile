# syntax=docker/dockerfile:1
# flowsync as a static binary on a distroless base: no shell, no package manager, runs as
# nonroot. Build and run (mount the directory holding the manifest and its lockfile):
#   docker build --build-arg VERSION=v1.2.3 -t flowsync:v1.2.3 .
#   docker run --rm -v "$PWD:/work" -w /work -e FLOWSYNC_CLIENT_ID -e FLOWSYNC_CLIENT_SECRET \
#     flowsync:v1.2.3 plan -f connections.yaml
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/flowsync/flowsync/cli.Version=${VERSION}" \
      -o /out/flowsync .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowsync /usr/local/bin/flowsync
USER nonroot:nonroot
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/flowsync"]
