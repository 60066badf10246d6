package tests

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/platform"
)

// TestWorkerRemovesOrphansAtStart: containers left by a worker that no
// longer exists (it crashed) are removed when a worker of the same platform
// starts; those of another platform on the same daemon are left alone.
func TestWorkerRemovesOrphansAtStart(t *testing.T) {
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	instance, err := platform.InstanceID(ctx, e.stack.Buckets)
	if err != nil {
		t.Fatal(err)
	}
	img := dockertest.BuildBusyboxImage(t, "orphan-sleep", "sleep 60")
	cli := dockertest.Client(t)
	dead := "dead-" + randHex(4)
	create := func(inst string, start bool) string {
		t.Helper()
		c, err := cli.ContainerCreate(ctx, &container.Config{Image: img, NetworkDisabled: true, Labels: map[string]string{
			docker.LabelWorkerID: dead, docker.LabelExecutionID: "orphan-" + randHex(4),
			docker.LabelFunctionID: "fn", docker.LabelInstance: inst,
		}}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) })
		if start {
			if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return c.ID
	}
	create(instance, true)
	create(instance, false)
	other := create("another-platform", false)

	e.startWorker(t, e.workerID+"-a", 1) // returns once it beats, after the clean-up
	left := dockertest.Containers(t, docker.LabelWorkerID, dead)
	if len(left) != 1 || left[0] != other {
		t.Fatalf("containers of the dead worker after a worker started: %v, want only the other platform's %s", left, other)
	}
}
