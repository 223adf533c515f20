# Build: docker build -t authgate .
# The Go version follows go.mod's go line (.ci/configs checks that they agree).
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /authgate ./cmd/authgate

# distroless/static: no shell, no package manager, runs as nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /authgate /authgate
EXPOSE 8080 9090
USER nonroot:nonroot
ENTRYPOINT ["/authgate"]
CMD ["serve"]
