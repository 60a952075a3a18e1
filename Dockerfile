# The sticky-guard image: `docker build -t REGISTRY/sticky-guard:TAG .`, then point the
# manifests at it (`kustomize edit set image sticky-guard=REGISTRY/sticky-guard:TAG`).
#
# Build stage: the same release build that CI runs and smoke-tests (.ci/build-release). On
# bookworm, the Debian release that distroless cc-debian12 is made from: the binary links
# against glibc dynamically and must not need a newer glibc than the runtime image has.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN bash .ci/build-release

# Runtime: distroless with glibc and libgcc (what a Rust binary links against), no shell, no
# package manager. UID/GID 65532 is distroless's `nonroot`, the user the Deployment runs as.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/sticky-guard /sticky-guard
USER 65532:65532
# 8443: HTTPS (webhooks, /healthz, /readyz); 8080: HTTP (/metrics).
EXPOSE 8443 8080
ENTRYPOINT ["/sticky-guard"]
CMD ["serve", "--manage-certs"]
