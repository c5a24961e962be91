// etcd for the e2e node image's etcd image, built from the etcd server module
// at the version kubeadm expects (Debian's etcd is too old).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
