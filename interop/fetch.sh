#!/bin/sh
# Fetch the pinned Apache Kafka broker (pom.xml: kafka_2.13 and its runtime dependencies,
# log4j2 as the logging backend) through Maven into interop/.cache/jars/ (git-ignored).
# A rerun with the jars in place and pom.xml unchanged does nothing. Exit codes:
# 0 ready, 2 Maven or Java missing, 3 Maven could not fetch (repository unreachable?).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/.cache/jars"
stamp="$dest/.complete"
if [ -f "$stamp" ] && [ ! "$here/pom.xml" -nt "$stamp" ]; then
    exit 0
fi
for tool in mvn java; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "error: '$tool' not found, needed to run Apache Kafka for the interop tests;" \
             "hint: make system-deps (installs maven; Java 17+ must be on PATH)" >&2
        exit 2
    }
done
mkdir -p "$here/.cache"
rm -rf "$dest"
if ! mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$dest" -DincludeScope=runtime >"$here/.cache/fetch.log" 2>&1; then
    tail -n 20 "$here/.cache/fetch.log" >&2
    echo "error: Maven could not fetch the Apache Kafka jars (full log: $here/.cache/fetch.log);" \
         "hint: check that the Maven repository is reachable (proxy settings in ~/.m2/settings.xml)" >&2
    exit 3
fi
touch "$stamp"
