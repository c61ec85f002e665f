#!/bin/sh
# Start Apache Kafka (KRaft, one combined broker+controller node) in the foreground.
#
#   interop/start.sh DATA_DIR PORT CONTROLLER_PORT [key=value ...]
#
# Writes DATA_DIR/server.properties (the settings below, then the key=value arguments,
# which override them) and DATA_DIR/log4j2.yaml, formats DATA_DIR/logs with a fresh
# cluster id unless it is already formatted, then execs the JVM (so this script's PID is
# the broker's: stop it with SIGTERM). Heap: KAFKA_HEAP_OPTS (default -Xmx512m -Xms256m).
# JVM flags are those of Kafka's own kafka-run-class.sh. Fetches the jars first if needed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 3 ] || { echo "usage: $0 DATA_DIR PORT CONTROLLER_PORT [key=value ...]" >&2; exit 2; }
data=$1 port=$2 cport=$3
shift 3
"$here/fetch.sh"
mkdir -p "$data"
data=$(cd "$data" && pwd)
{
    echo "process.roles=broker,controller"
    echo "node.id=0"  # Riverhead's default broker.id
    echo "controller.quorum.voters=0@127.0.0.1:$cport"
    echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
    echo "controller.listener.names=CONTROLLER"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    echo "log.dirs=$data/logs"
    # One node: internal topics cannot have more replicas than brokers.
    echo "offsets.topic.replication.factor=1"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "share.coordinator.state.topic.replication.factor=1"
    echo "share.coordinator.state.topic.min.isr=1"
    for kv in "$@"; do echo "$kv"; done
} >"$data/server.properties"
cat >"$data/log4j2.yaml" <<'YAML'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: org.apache.kafka.common.config
        level: WARN
      - name: kafka.server.KafkaConfig
        level: WARN
YAML
cp="$here/.cache/jars/*"
jvm="-Djava.awt.headless=true -Dlog4j2.configurationFile=$data/log4j2.yaml"
if [ ! -f "$data/logs/meta.properties" ]; then
    cluster_id=$(java -cp "$cp" $jvm kafka.tools.StorageTool random-uuid)
    java -Xmx256m -cp "$cp" $jvm kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$data/server.properties" >"$data/format.log" 2>&1 || {
        cat "$data/format.log" >&2
        exit 1
    }
fi
# shellcheck disable=SC2086  # word splitting of the option lists is intended
exec java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent $jvm \
    -cp "$cp" kafka.Kafka "$data/server.properties"
