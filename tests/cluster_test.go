package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/service"
)

// clusterNode is one nats-server process of a JetStream cluster, in its own
// network namespace, with its own store.
type clusterNode struct {
	name, ns, ip, dir string
	cmd               *exec.Cmd
	done              chan struct{}
	out               *apisixtest.SyncBuffer
}

// natsCluster is a 3-node JetStream cluster on netHosts.
type natsCluster struct {
	bin    string
	routes string
	nodes  []*clusterNode
}

// startNATSCluster starts one nats-server per host, clustered by routes
// between the hosts' addresses, and waits until each listens.
func startNATSCluster(t *testing.T, hosts *netHosts) *natsCluster {
	t.Helper()
	c := &natsCluster{bin: apisixtest.GoBuild(t, "github.com/nats-io/nats-server/v2")}
	var routes []string
	for i := range hosts.ns {
		routes = append(routes, "nats://"+hosts.ip(i)+":6222")
	}
	c.routes = strings.Join(routes, ",")
	for i, ns := range hosts.ns {
		n := &clusterNode{name: fmt.Sprint("n", i), ns: ns, ip: hosts.ip(i), dir: t.TempDir()}
		c.nodes = append(c.nodes, n)
		t.Cleanup(func() {
			n.kill()
			if t.Failed() {
				t.Logf("nats-server %s:\n%s", n.name, n.out)
			}
		})
		c.start(t, n)
	}
	return c
}

func (c *natsCluster) start(t *testing.T, n *clusterNode) {
	t.Helper()
	n.out = &apisixtest.SyncBuffer{}
	n.cmd = exec.Command("ip", "netns", "exec", n.ns, c.bin, "-js", "-sd", n.dir, "-n", n.name,
		"-a", n.ip, "-p", "4222", "--cluster_name", "faas", "--cluster", "nats://"+n.ip+":6222", "--routes", c.routes)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(n.cmd, n.done)
	eventually.True(t, 30*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", n.ip+":4222", time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	}, "nats-server %s did not listen on %s:\n%s", n.name, n.ip, n.out)
}

// kill ends n with SIGKILL (no shutdown: a host lost) and waits for it.
func (n *clusterNode) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.cmd = nil
}

// url is every node's client address.
func (c *natsCluster) url() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, "nats://"+n.ip+":4222")
	}
	return strings.Join(urls, ",")
}

// node returns the node named name.
func (c *natsCluster) node(t *testing.T, name string) *clusterNode {
	t.Helper()
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// TestClusterLeaderLoss is the several-hosts case: three nats-servers, each
// in its own network namespace, NATS_REPLICAS=3, the platform's core on the
// cluster and one `faas worker` process per namespace. 200 executions go in
// while the leader of the EXECUTIONS stream is SIGKILLed midway; every one
// ends complete with its own output, none is lost, none ever runs twice at
// once, each run is an attempt of its own (a run again after a lapsed lease
// is counted); the killed node restarts and catches up (the stream has 3
// current peers again).
func TestClusterLeaderLoss(t *testing.T) {
	dockertest.RequireDocker(t)
	hosts := newNetHosts(t, 3)
	cluster := startNATSCluster(t, hosts)

	// The cluster serves JetStream once it elected its meta leader.
	waitJetStream(t, cluster.url())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nc, js, err := natsstore.Connect(ctx, cluster.url(), "cluster-test", natsstore.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	st := platformtest.NewStackWith(t, platformtest.StackOptions{
		NATSURL: cluster.url(), Policy: lifecyclePolicy, Replicas: 3,
		Sweeper: service.SweeperOptions{Interval: time.Second, PublishGrace: 2 * time.Second},
	})
	st.Deps.WaitTimeout = 40 * time.Second
	base := st.Serve(t)
	e := &env{Fixture: apitest.NewFixture(t, base, st.Secret), stack: st, base: base, workerID: "c" + randHex(4)}
	watch := watchContainers(t)
	for i, ns := range hosts.ns {
		// One slot each: on 2 cores, more cold starts at once starve the
		// nats-servers and stretch the election.
		e.startWorkerProcIn(t, ns, fmt.Sprintf("%s-%d", e.workerID, i), 1,
			"WORKER_ADDRESS="+hosts.ip(i)+":0", "NATS_REPLICAS=3")
	}
	u := e.Register(t, "clusterer")
	fn := e.function(t, u, "cl-echo", `cat`, nil)

	const n = 200
	ids := make([]string, n)
	refused := 0
	post := func(i int) {
		// A 503 during the election ("could not queue the execution, try
		// again later") is an execution refused, not accepted: the client
		// tries again as a new request (a new Idempotency-Key; the old key
		// names the refused one).
		try := 0
		eventually.NoError(t, 60*time.Second, func() error {
			try++
			r, x := e.postExecution(t, u, fn, fmt.Sprint("in-", i), map[string]string{"Idempotency-Key": fmt.Sprint("k-", i, "-", try)})
			if r.Status != http.StatusAccepted {
				refused++
				return fmt.Errorf("post %d: %d %s", i, r.Status, r.Body)
			}
			ids[i] = x.ID
			return nil
		})
	}
	for i := range n / 2 {
		post(i)
	}
	eventually.True(t, 2*time.Minute, func() bool { s, _ := watch.stats(ids[n/10]); return s > 0 }, "the executions did not start")
	leader := streamLeader(t, ctx, js)
	victim := cluster.node(t, leader)
	victim.kill()
	t.Logf("killed %s, leader of %s, with %d of %d executions submitted", leader, natsstore.StreamExecutions, n/2, n)
	for i := n / 2; i < n; i++ {
		post(i)
	}

	retried, twice := 0, 0
	for i, id := range ids {
		x := waitFinal(t, e, u, id, 3*time.Minute)
		if x.Status != "complete" || x.output() != fmt.Sprint("in-", i) {
			t.Fatalf("execution %d: %+v (output %q)", i, x, x.output())
		}
		// Never two runs at once, and every run an attempt of its own
		// (recorded, fenced by the lease). A second run happens when a
		// worker cannot reach the cluster for longer than a lease lives
		// (domain.LeaseTTL) while the sweeper can: it takes the execution
		// back and another worker runs it again. Counted, not failed: see
		// the README's Deployment section.
		starts, most := watch.stats(id)
		if starts < 1 || most != 1 || starts > x.Attempts {
			t.Fatalf("execution %d: %d container starts (%d at once) for %d attempts", i, starts, most, x.Attempts)
		}
		if starts > 1 {
			twice++
		}
		if x.Attempts > 1 {
			retried++
		}
	}
	t.Logf("%d executions across the loss of the stream leader: all complete with their own output, never two runs at once; "+
		"%d ran again after a lease lapsed, %d needed another attempt, %d submissions refused with 503 and sent again", n, twice, retried, refused)

	cluster.start(t, victim)
	eventually.NoError(t, 2*time.Minute, func() error {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := js.Stream(ictx, natsstore.StreamExecutions)
		if err != nil {
			return err
		}
		info, err := s.Info(ictx)
		if err != nil {
			return err
		}
		return currentPeers(info)
	})
}

// streamLeader is the server leading the EXECUTIONS stream.
func streamLeader(t *testing.T, ctx context.Context, js jetstream.JetStream) string {
	t.Helper()
	var leader string
	eventually.NoError(t, 30*time.Second, func() error {
		s, err := js.Stream(ctx, natsstore.StreamExecutions)
		if err != nil {
			return err
		}
		if info := s.CachedInfo(); info.Cluster != nil && info.Cluster.Leader != "" {
			leader = info.Cluster.Leader
			return nil
		}
		return errors.New("no leader")
	})
	return leader
}

// currentPeers is nil when the stream has a leader and two current replicas.
func currentPeers(info *jetstream.StreamInfo) error {
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return errors.New("no leader")
	}
	if len(info.Cluster.Replicas) != 2 {
		return fmt.Errorf("%d replicas besides the leader", len(info.Cluster.Replicas))
	}
	for _, p := range info.Cluster.Replicas {
		if !p.Current || p.Offline {
			return fmt.Errorf("peer %s: current %v, offline %v, lag %d", p.Name, p.Current, p.Offline, p.Lag)
		}
	}
	return nil
}

// waitFinal polls execution id until it ended, through answers of 503
// while the cluster elects a leader.
func waitFinal(t *testing.T, e *env, u *apitest.User, id string, d time.Duration) execution {
	t.Helper()
	var x execution
	eventually.NoError(t, d, func() error {
		r := apitest.Do(t, e.base, http.MethodGet, "/api/v1/executions/"+id, u.Token, nil, nil)
		if r.Status != http.StatusOK {
			return fmt.Errorf("get %s: %d %s", id, r.Status, r.Body)
		}
		r.Decode(t, &x)
		switch x.Status {
		case "complete", "failed", "timeout", "cancelled":
			return nil
		}
		return fmt.Errorf("execution %s: status %s", id, x.Status)
	})
	return x
}
