// Package deployments holds no code: its tests render the Helm chart with
// the real helm (testenv.Helm) and check the manifests, dashboards and
// alert rules in this folder against flowlake's code (image, ports, probe
// paths, flags, metric names), and evaluate every alert rule against
// recorded series.
package deployments
