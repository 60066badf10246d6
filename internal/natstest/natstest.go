// Package natstest starts NATS JetStream clusters inside a test's process,
// on loopback, for tests of replication (not of the network between hosts:
// tests/cluster_test.go runs nats-server processes in network namespaces).
package natstest

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartCluster starts n clustered JetStream servers named prefix0..n-1,
// each with its own store under t.TempDir(), stopped when the test ends. It
// returns them once each accepts connections; JetStream answers once the
// cluster has elected its meta leader, a moment later.
func StartCluster(t testing.TB, prefix string, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
	}
	srvs := make([]*server.Server, n)
	for i := range srvs {
		opts := &server.Options{ServerName: fmt.Sprint(prefix, i), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
		opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = prefix, "127.0.0.1", ports[i]
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		srvs[i] = s
	}
	for _, s := range srvs {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("cluster node %s not ready", s.Name())
		}
	}
	return srvs
}

// URL is the client URL list of srvs.
func URL(srvs []*server.Server) string {
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}
