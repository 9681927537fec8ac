# Shared by CI's Docker stages (.ci/docker-tests, .ci/docker-e2e); sourced, never run.
# The caller sets STAGE (its name in logs and in bench/results/<STAGE>.json), WORK (a temp
# folder) and PYTHON (the project's venv python) before sourcing.

STAGE_START=$SECONDS
TIMINGS=()
STEPS_JSON=()

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$STAGE" -1 "$*" >&2; }

step() {  # step NAME COMMAND...: run it, time it, keep the figure for the summary
    local name=$1 start=$SECONDS; shift
    log "== $name"
    "$@"
    TIMINGS+=("$(printf '%-40s %4d s' "$name" $((SECONDS - start)))")
    STEPS_JSON+=("$(printf '{"step": "%s", "seconds": %d}' "$name" $((SECONDS - start)))")
}

write_timings() {  # write_timings true|false: bench/results/$STAGE.json, like the benchmarks' figures
    local passed=$1 IFS=,
    mkdir -p bench/results
    printf '{"stage": "%s", "passed": %s, "total_seconds": %d, "steps": [%s]}\n' \
        "$STAGE" "$passed" $((SECONDS - STAGE_START)) "${STEPS_JSON[*]}" >"bench/results/$STAGE.json"
}

print_timings() {  # print_timings EXIT_CODE
    log "stage $( (($1 == 0)) && echo passed || echo "FAILED (exit $1)") in $((SECONDS - STAGE_START)) s"
    printf '  %s\n' "${TIMINGS[@]}" >&2
}

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# pip inside a build: this machine's CA bundle (it may hold a local CA for the egress proxy,
# /usr/local/share/ca-certificates) and its network index settings, handed in as BuildKit
# secrets so that neither lands in a layer nor in the repository. Fills the array SECRETS.
build_secrets() {
    SECRETS=()
    local bundle=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
    local extra=(/usr/local/share/ca-certificates/*.crt)
    if [[ -s $bundle || -e ${extra[0]} ]]; then
        cat "$bundle" "${extra[@]}" 2>/dev/null >"$WORK/ca-bundle.crt" || true
        SECRETS+=(--secret "id=ca_bundle,src=$WORK/ca-bundle.crt")
    fi
    local index extra_index
    index=${PIP_INDEX_URL:-$("$PYTHON" -m pip config get global.index-url 2>/dev/null || true)}
    extra_index=${PIP_EXTRA_INDEX_URL:-$("$PYTHON" -m pip config get global.extra-index-url 2>/dev/null || true)}
    # local file:// indexes and find-links folders do not exist inside the build
    index=$(tr ' ' '\n' <<<"$index" | grep -E '^https?://' | head -1 || true)
    extra_index=$(tr ' ' '\n' <<<"$extra_index" | grep -E '^https?://' | tr '\n' ' ' || true)
    if [[ -n $index || -n ${extra_index// /} ]]; then
        {
            echo "[global]"
            [[ -n $index ]] && echo "index-url = $index"
            [[ -n ${extra_index// /} ]] && echo "extra-index-url = $extra_index"
        } >"$WORK/pip.conf"
        SECRETS+=(--secret "id=pip_conf,src=$WORK/pip.conf")
    fi
    local proxy
    for proxy in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
        # Docker keeps these predefined build args out of the image's history
        [[ -n ${!proxy:-} ]] && SECRETS+=(--build-arg "$proxy=${!proxy}")
    done
    return 0
}

build() {  # build TAG DOCKERFILE CONTEXT [BUILD ARGS...]: BuildKit with the secrets, log on failure
    local tag=$1 dockerfile=$2 context=$3; shift 3
    build_secrets
    docker buildx build --load --progress=plain -f "$dockerfile" "${SECRETS[@]}" "$@" -t "$tag" "$context" \
        >"$WORK/build-${tag//[^a-zA-Z0-9]/_}.log" 2>&1 \
        || { tail -n 40 "$WORK/build-${tag//[^a-zA-Z0-9]/_}.log" >&2; return 1; }
    log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}
