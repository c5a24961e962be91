#!/usr/bin/env bash
# Run inside the node rootfs image: copies iptables (nft variant), conntrack and
# every shared library they and the xtables plugins load into OUT, the root of
# the FROM-scratch kube-proxy image.
set -euo pipefail
OUT="$1"
bins=(/usr/sbin/xtables-nft-multi /usr/sbin/conntrack)
plugins=(/usr/lib/x86_64-linux-gnu/xtables/*.so)
mkdir -p "$OUT/usr/sbin" "$OUT/tmp" "$OUT/etc"
chmod 1777 "$OUT/tmp"
cp -L --parents "${bins[@]}" "${plugins[@]}" "$OUT/"
# The libraries the binaries and the plugins they dlopen need, at the paths
# the dynamic loader looks for them.
for f in "${bins[@]}" "${plugins[@]}"; do
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | xargs cp -L --parents -t "$OUT/"
# iptables commands kube-proxy runs, all pointing at the nft multi-call binary.
for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-nft-multi "$OUT/usr/sbin/$n"
  ln -sf xtables-nft-multi "$OUT/usr/sbin/${n/tables/tables-nft}"
done
cp -L /etc/protocols /etc/services /etc/ethertypes "$OUT/etc/" 2>/dev/null || true
