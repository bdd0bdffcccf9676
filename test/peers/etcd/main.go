// etcd as go.etcd.io/etcd's own main builds it (etcdmain.Main), from the server module at the release
// Kubernetes names: a test peer only (the project's product is TypeScript, C++ and C).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
