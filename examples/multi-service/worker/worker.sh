#!/bin/sh
# The "work": a job every 5 seconds. httpd (in the background) answers the readiness probe.
trap 'exit 0' TERM
httpd -p 8080 -h /www
n=0
while true; do
  n=$((n + 1))
  echo "worker: processed job $n"
  sleep 5 &
  wait $!
done
