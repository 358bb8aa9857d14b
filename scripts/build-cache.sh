# Sourced, not run: builds a tool once per machine into a cache directory outside the clone.
#
#   . scripts/build-cache.sh
#   cache_build LABEL CACHE_DIR IS_BUILT BUILD
#
# IS_BUILT DIR succeeds when DIR holds a complete build; BUILD OUT WORK builds into the empty
# directory OUT, with WORK (empty too, removed afterwards) for its scratch files.
# The build runs in a temporary directory beside CACHE_DIR that is renamed into place only when
# IS_BUILT accepts it, so an interrupted build never leaves a half cache behind. One build at a
# time per cache root (a lock file there); one that waited for the lock finds the cache built.
# Sets an EXIT trap (the temporary directory's removal): call it from a script of its own.
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

cache_build() { # LABEL CACHE_DIR IS_BUILT BUILD
  local label="$1" dir="$2" is_built="$3" build="$4" root
  root="$(dirname "$dir")"
  if "$is_built" "$dir"; then echo "$label: cached in $dir" >&2; return 0; fi
  [ -x "$GO" ] || { echo "$label: no Go toolchain (set GO=/path/to/go)" >&2; return 1; }
  mkdir -p "$root"
  exec 9>"$root/.build.lock"
  flock 9
  if "$is_built" "$dir"; then echo "$label: cached in $dir" >&2; exec 9>&-; return 0; fi
  rm -rf "$root"/.build-* # left by a build that was killed (none runs: we hold the lock)
  _cache_build_tmp="$(mktemp -d "$root/.build-XXXXXX")" # global: the EXIT trap runs after this function returns
  trap 'rm -rf "$_cache_build_tmp"' EXIT
  local start=$SECONDS
  mkdir "$_cache_build_tmp/out" "$_cache_build_tmp/work"
  "$build" "$_cache_build_tmp/out" "$_cache_build_tmp/work" || { echo "$label: build failed" >&2; return 1; }
  "$is_built" "$_cache_build_tmp/out" || { echo "$label: the build finished without all it should make" >&2; return 1; }
  rm -rf "$dir"
  mv "$_cache_build_tmp/out" "$dir"
  exec 9>&-
  echo "$label: built in $((SECONDS - start)) s into $dir ($(du -sh "$dir" | cut -f1))" >&2
}
