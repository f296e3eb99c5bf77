package config

import (
	"strings"
	"time"

	"flowlake/stages/source/kafka"
)

// validateKafka reports every invalid Kafka consumer setting under
// kafka.* (the defaults are kafka.Defaults); embedded (the demo) needs no
// brokers.
func validateKafka(v *validator, k *kafka.Config, embedded bool) {
	if !embedded && len(k.Brokers) == 0 {
		v.bad("kafka.brokers", "at least one broker is required (or `flowlake demo`)")
	}
	for _, b := range k.Brokers {
		if !strings.Contains(b, ":") {
			v.bad("kafka.brokers", "%q is not host:port", b)
		}
	}
	v.check(k.Topic != "", "kafka.topic", "required")
	v.check(k.Group != "", "kafka.group", "required")
	if err := k.Auth.Validate(); err != nil {
		v.bad("kafka.auth.sasl", "%v", err)
	}
	v.oneOf(k.StartOffset, "kafka.start_offset", "earliest", "latest")
	v.check(k.FetchMaxBytes > 0, "kafka.fetch_max_bytes", "must be positive")
	v.check(k.FetchMaxWait > 0, "kafka.fetch_max_wait", "must be positive")
	v.check(k.SessionTimeout >= 6*time.Second, "kafka.session_timeout", "must be at least 6s (brokers reject less by default)")
	v.check(k.RebalanceTimeout > 0, "kafka.rebalance_timeout", "must be positive")
	v.check(k.HeartbeatInterval > 0 && k.HeartbeatInterval < k.SessionTimeout, "kafka.heartbeat_interval", "must be positive and below kafka.session_timeout")
	v.check(k.ConnectTimeout > 0, "kafka.connect_timeout", "must be positive")
}
