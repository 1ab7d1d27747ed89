// testapiserver: an embedded etcd and a real kube-apiserver in one process, for tests only.
// It listens on 127.0.0.1 only.
//
// Usage: TESTAPI_ETCD_DIR=/tmp/x TESTAPI_ETCD_PORT=23790 testapiserver <kube-apiserver flags...>
package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"
	_ "time/tzdata"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	port, _ := strconv.Atoi(os.Getenv("TESTAPI_ETCD_PORT"))
	if port == 0 {
		port = 23790
	}
	dir := os.Getenv("TESTAPI_ETCD_DIR")
	if dir == "" {
		fmt.Fprintln(os.Stderr, "TESTAPI_ETCD_DIR must be set")
		os.Exit(2)
	}
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port+1)}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "test", dir
	cfg.LogLevel, cfg.UnsafeNoFsync = "warn", true
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
	select {
	case <-etcd.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "etcd: not ready after 60s")
		os.Exit(1)
	}
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(append(os.Args[1:], "--etcd-servers="+client.String()))
	code := cli.Run(cmd)
	// etcd's graceful close waits for the apiserver's storage streams, which live on in this process
	// after Run returns; do not let that hold the exit (the data is in the page cache already).
	closed := make(chan struct{})
	go func() { etcd.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		fmt.Fprintln(os.Stderr, "etcd: close timed out after 3s; exiting")
	}
	os.Exit(code)
}
