package enrich

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"
)

const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Recorded-style EC2 Query API responses. Page 1 of each call carries a
// nextToken; the interfaces' first page is throttled once.
var (
	eniPage1 = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="` + ec2NS + `">
    <requestId>2f4a6b1c-1111-4d6e-9a0b-0123456789ab</requestId>
    <networkInterfaceSet>
        <item>
            <networkInterfaceId>eni-0a1b2c3d4e5f60718</networkInterfaceId>
            <subnetId>subnet-0aa11bb22cc33dd44</subnetId>
            <vpcId>vpc-0123456789abcdef0</vpcId>
            <availabilityZone>%[1]sa</availabilityZone>
            <availabilityZoneId>use1-az4</availabilityZoneId>
            <description>Primary network interface</description>
            <ownerId>%[2]s</ownerId>
            <requesterManaged>false</requesterManaged>
            <status>in-use</status>
            <macAddress>0e:4c:92:6a:21:b5</macAddress>
            <privateIpAddress>10.1.1.10</privateIpAddress>
            <privateDnsName>ip-10-1-1-10.ec2.internal</privateDnsName>
            <sourceDestCheck>true</sourceDestCheck>
            <groupSet>
                <item><groupId>sg-0f00ba12345678901</groupId><groupName>web</groupName></item>
                <item><groupId>sg-0a1b2c3d4e5f60718</groupId><groupName>default</groupName></item>
            </groupSet>
            <attachment>
                <attachmentId>eni-attach-0f1e2d3c4b5a69788</attachmentId>
                <instanceId>i-0c50d5961bcb2d47b</instanceId>
                <instanceOwnerId>%[2]s</instanceOwnerId>
                <deviceIndex>0</deviceIndex>
                <status>attached</status>
                <attachTime>2024-05-02T09:14:51.000Z</attachTime>
                <deleteOnTermination>true</deleteOnTermination>
            </attachment>
            <tagSet>
                <item><key>Name</key><value>web-1</value></item>
                <item><key>team</key><value>payments</value></item>
            </tagSet>
            <privateIpAddressesSet>
                <item><privateIpAddress>10.1.1.10</privateIpAddress><primary>true</primary></item>
                <item><privateIpAddress>10.1.1.11</privateIpAddress><primary>false</primary></item>
            </privateIpAddressesSet>
            <ipv6AddressesSet>
                <item><ipv6Address>2600:1f18:abcd:1100::10</ipv6Address><isPrimaryIpv6>false</isPrimaryIpv6></item>
            </ipv6AddressesSet>
            <interfaceType>interface</interfaceType>
        </item>
    </networkInterfaceSet>
    <nextToken>page-2-token</nextToken>
</DescribeNetworkInterfacesResponse>`

	eniPage2 = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="` + ec2NS + `">
    <requestId>2f4a6b1c-2222-4d6e-9a0b-0123456789ab</requestId>
    <networkInterfaceSet>
        <item>
            <networkInterfaceId>eni-0bbbb1111cccc2222</networkInterfaceId>
            <subnetId>subnet-0bb22cc33dd44ee55</subnetId>
            <vpcId>vpc-0123456789abcdef0</vpcId>
            <availabilityZone>%[1]sb</availabilityZone>
            <availabilityZoneId>use1-az6</availabilityZoneId>
            <description>Interface for NAT Gateway nat-0a9b8c7d6e5f40312</description>
            <ownerId>%[2]s</ownerId>
            <requesterId>AROAXAMPLE0NATGW000000:natgw</requesterId>
            <requesterManaged>true</requesterManaged>
            <status>in-use</status>
            <privateIpAddress>10.1.2.5</privateIpAddress>
            <groupSet/>
            <attachment>
                <attachmentId>ela-attach-0d9c8b7a6f5e4d3c2</attachmentId>
                <instanceOwnerId>amazon-aws</instanceOwnerId>
                <deviceIndex>1</deviceIndex>
                <status>attached</status>
            </attachment>
            <tagSet/>
            <privateIpAddressesSet>
                <item><privateIpAddress>10.1.2.5</privateIpAddress><primary>true</primary></item>
            </privateIpAddressesSet>
            <ipv6AddressesSet/>
            <interfaceType>natGateway</interfaceType>
        </item>
    </networkInterfaceSet>
</DescribeNetworkInterfacesResponse>`

	subnetPage1 = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeSubnetsResponse xmlns="` + ec2NS + `">
    <requestId>7a62c49f-3333-4f2a-8d6b-0123456789ab</requestId>
    <subnetSet>
        <item>
            <subnetId>subnet-0aa11bb22cc33dd44</subnetId>
            <subnetArn>arn:aws:ec2:%[1]s:%[2]s:subnet/subnet-0aa11bb22cc33dd44</subnetArn>
            <state>available</state>
            <ownerId>%[2]s</ownerId>
            <vpcId>vpc-0123456789abcdef0</vpcId>
            <cidrBlock>10.1.1.0/24</cidrBlock>
            <ipv6CidrBlockAssociationSet>
                <item>
                    <ipv6CidrBlock>2600:1f18:abcd:1100::/64</ipv6CidrBlock>
                    <associationId>subnet-cidr-assoc-0a1a2a3a4a5a6a7a8</associationId>
                    <ipv6CidrBlockState><state>associated</state></ipv6CidrBlockState>
                </item>
            </ipv6CidrBlockAssociationSet>
            <availableIpAddressCount>245</availableIpAddressCount>
            <availabilityZone>%[1]sa</availabilityZone>
            <availabilityZoneId>use1-az4</availabilityZoneId>
            <defaultForAz>false</defaultForAz>
            <mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>
        </item>
    </subnetSet>
    <nextToken>subnets-page-2</nextToken>
</DescribeSubnetsResponse>`

	subnetPage2 = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeSubnetsResponse xmlns="` + ec2NS + `">
    <requestId>7a62c49f-4444-4f2a-8d6b-0123456789ab</requestId>
    <subnetSet>
        <item>
            <subnetId>subnet-0bb22cc33dd44ee55</subnetId>
            <state>available</state>
            <ownerId>%[2]s</ownerId>
            <vpcId>vpc-0123456789abcdef0</vpcId>
            <cidrBlock>10.1.2.0/24</cidrBlock>
            <ipv6CidrBlockAssociationSet/>
            <availabilityZone>%[1]sb</availabilityZone>
            <availabilityZoneId>use1-az6</availabilityZoneId>
        </item>
    </subnetSet>
</DescribeSubnetsResponse>`

	throttled = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>5c2b3e1a-5555-4e0f-8a1b-0123456789ab</RequestID></Response>`

	assumeRole = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::444455556666:assumed-role/flowlake-read/flowlake-enrich</Arn>
      <AssumedRoleId>AROAEXAMPLEROLEID0000:flowlake-enrich</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAASSUMEDEXAMPLE01</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-session-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-6666-11e4-8a6e-0123456789ab</RequestId></ResponseMetadata>
</AssumeRoleResponse>`
)

var credentialScope = regexp.MustCompile(`Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/([a-z0-9]+)/aws4_request`)

// fakeAWS answers the EC2 and STS Query APIs the way AWS does, per region
// (taken from the request's signature) and per access key.
type fakeAWS struct {
	t        *testing.T
	accounts map[string]string // access key -> account id
	throttle bool              // throttle the first DescribeNetworkInterfaces per region and key

	mu        sync.Mutex
	calls     []string        // "key region action token"
	throttled map[string]bool // region+key already throttled
	failKey   string          // answer this access key with UnauthorizedOperation
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("parse form: %v", err)
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if r.Method != http.MethodPost || m == nil {
		f.t.Errorf("unsigned or non-POST request: %s %q", r.Method, r.Header.Get("Authorization"))
		http.Error(w, "unsigned", http.StatusForbidden)
		return
	}
	key, region, service := m[1], m[2], m[3]
	action, token := r.PostForm.Get("Action"), r.PostForm.Get("NextToken")
	f.mu.Lock()
	f.calls = append(f.calls, strings.TrimSpace(strings.Join([]string{key, region, action, token}, " ")))
	first := f.throttle && action == "DescribeNetworkInterfaces" && token == "" && !f.throttled[region+key]
	if first {
		f.throttled[region+key] = true
	}
	fail := key == f.failKey
	f.mu.Unlock()

	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if service == "sts" {
		if action != "AssumeRole" || r.PostForm.Get("RoleArn") == "" || r.PostForm.Get("RoleSessionName") != "flowlake-enrich" {
			f.t.Errorf("unexpected STS call %v", r.PostForm)
		}
		fmt.Fprint(w, assumeRole)
		return
	}
	if r.PostForm.Get("Version") != "2016-11-15" || r.PostForm.Get("MaxResults") != "1000" {
		f.t.Errorf("unexpected EC2 request parameters %v", r.PostForm)
	}
	if fail {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>x</RequestID></Response>`)
		return
	}
	if first {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, throttled)
		return
	}
	account := f.accounts[key]
	var body string
	switch {
	case action == "DescribeNetworkInterfaces" && token == "":
		if r.PostForm.Get("IncludeManagedResources") != "true" {
			f.t.Errorf("IncludeManagedResources not set: %v", r.PostForm)
		}
		body = eniPage1
	case action == "DescribeNetworkInterfaces" && token == "page-2-token":
		body = eniPage2
	case action == "DescribeSubnets" && token == "":
		body = subnetPage1
	case action == "DescribeSubnets" && token == "subnets-page-2":
		body = subnetPage2
	default:
		f.t.Errorf("unexpected call %s token %q", action, token)
		http.Error(w, "unexpected", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, body, region, account)
}

func (f *fakeAWS) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fastRetries keeps the SDK's standard retryer (and its error
// classification) but without the backoff sleep.
func fastRetries(o *ec2.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
}

func newFakeAWS(t *testing.T, throttle bool) (*fakeAWS, *httptest.Server) {
	t.Helper()
	// Keep the developer's own AWS configuration out of the test.
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := &fakeAWS{
		t:         t,
		throttle:  throttle,
		throttled: map[string]bool{},
		accounts:  map[string]string{"AKIDBASEEXAMPLE00001": "111122223333", "ASIAASSUMEDEXAMPLE01": "444455556666"},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestEC2Source(t *testing.T) {
	f, srv := newFakeAWS(t, true)
	reg := prometheus.NewRegistry()
	m, err := NewManager(Config{
		Regions:     []string{"us-east-1", "eu-west-1"},
		EC2Endpoint: srv.URL,
		HTTPClient:  srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBASEEXAMPLE00001", "base-secret", ""),
		TagKeys:     []string{"team"},
	}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ec2Opts = []func(*ec2.Options){fastRetries}
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	inv := m.Current()
	// Both regions describe the same ids: the later target (eu-west-1) wins.
	if inv.Len() != 2 || inv.Subnets() != 2 {
		t.Fatalf("Len() = %d, Subnets() = %d; want 2, 2", inv.Len(), inv.Subnets())
	}
	got, _ := inv.Interface([]byte("eni-0a1b2c3d4e5f60718"))
	want := &ifaceFields{
		ID: "eni-0a1b2c3d4e5f60718", OwnerID: "111122223333", VpcID: "vpc-0123456789abcdef0",
		SubnetID: "subnet-0aa11bb22cc33dd44", AvailabilityZone: "eu-west-1a", AvailabilityZoneID: "use1-az4",
		Region: "eu-west-1", InstanceID: "i-0c50d5961bcb2d47b", InterfaceType: "interface",
		Description:      "Primary network interface",
		SecurityGroupIDs: "sg-0a1b2c3d4e5f60718,sg-0f00ba12345678901",
		Tags:             map[string]string{"team": "payments"},
		PrivateIPs: []netip.Addr{
			netip.MustParseAddr("10.1.1.10"), netip.MustParseAddr("10.1.1.11"), netip.MustParseAddr("2600:1f18:abcd:1100::10"),
		},
	}
	if f := fields(got); !reflect.DeepEqual(f, want) {
		t.Errorf("interface =\n%+v\nwant\n%+v", f, want)
	}
	nat, ok := inv.Interface([]byte("eni-0bbbb1111cccc2222"))
	if !ok || !nat.RequesterManaged() || nat.InstanceID() != "" || nat.InterfaceType() != "natGateway" || nat.RequesterID() != "AROAXAMPLE0NATGW000000:natgw" {
		t.Errorf("NAT interface = %+v", fields(nat))
	}
	for addr, want := range map[string]string{"10.1.1.99": "subnet-0aa11bb22cc33dd44", "2600:1f18:abcd:1100::1": "subnet-0aa11bb22cc33dd44", "10.1.2.1": "subnet-0bb22cc33dd44ee55"} {
		if sn, ok := inv.Peer([]byte(addr)); !ok || sn.ID != want || sn.Region != "eu-west-1" {
			t.Errorf("Peer(%s) = %+v, %v; want %s in eu-west-1", addr, sn, ok, want)
		}
	}

	// Per region: a throttled first page retried by the SDK, then both
	// pages of each call.
	calls := f.callLog()
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		var got []string
		for _, c := range calls {
			if strings.Contains(c, " "+region+" ") {
				got = append(got, c)
			}
		}
		want := []string{
			"AKIDBASEEXAMPLE00001 " + region + " DescribeNetworkInterfaces",
			"AKIDBASEEXAMPLE00001 " + region + " DescribeNetworkInterfaces",
			"AKIDBASEEXAMPLE00001 " + region + " DescribeNetworkInterfaces page-2-token",
			"AKIDBASEEXAMPLE00001 " + region + " DescribeSubnets",
			"AKIDBASEEXAMPLE00001 " + region + " DescribeSubnets subnets-page-2",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("calls in %s:\n%s\nwant\n%s", region, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if got := value(m.metrics.refreshes.WithLabelValues(sourceEC2)); got != 2 {
		t.Errorf("ec2 refreshes = %v, want 2 (one per target)", got)
	}
}

func TestEC2AssumeRole(t *testing.T) {
	f, srv := newFakeAWS(t, false)
	m, err := NewManager(Config{
		Regions:     []string{"us-west-2"},
		RoleARNs:    []string{"arn:aws:iam::444455556666:role/flowlake-read"},
		EC2Endpoint: srv.URL,
		STSEndpoint: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBASEEXAMPLE00001", "base-secret", ""),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ec2Opts = []func(*ec2.Options){fastRetries}
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	it, ok := m.Current().Interface([]byte("eni-0a1b2c3d4e5f60718"))
	if !ok || it.OwnerID() != "444455556666" || it.Region() != "us-west-2" {
		t.Errorf("interface = %+v, %v; want the assumed account's", fields(it), ok)
	}
	calls := f.callLog()
	if len(calls) == 0 || !strings.HasPrefix(calls[0], "AKIDBASEEXAMPLE00001 us-west-2 AssumeRole") {
		t.Fatalf("first call %v, want AssumeRole with the base key", calls)
	}
	for _, c := range calls[1:] {
		if !strings.HasPrefix(c, "ASIAASSUMEDEXAMPLE01 ") {
			t.Errorf("EC2 call not signed with the assumed role: %s", c)
		}
	}
}

func TestEC2RefreshFailureKeepsLastGood(t *testing.T) {
	f, srv := newFakeAWS(t, false)
	m, err := NewManager(Config{
		Regions:     []string{"us-east-1"},
		EC2Endpoint: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBASEEXAMPLE00001", "base-secret", ""),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ec2Opts = []func(*ec2.Options){fastRetries}
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	good := m.Current()

	f.mu.Lock()
	f.failKey = "AKIDBASEEXAMPLE00001"
	f.mu.Unlock()
	m.refreshEC2(t.Context())
	if m.Current() != good {
		t.Error("a failed refresh replaced the inventory")
	}
	if got := value(m.metrics.failures.WithLabelValues(sourceEC2)); got != 1 {
		t.Errorf("ec2 failures = %v, want 1", got)
	}

	f.mu.Lock()
	f.failKey = ""
	f.mu.Unlock()
	m.refreshEC2(t.Context())
	if m.Current() == good || m.Current().Len() != 2 {
		t.Errorf("a good refresh was not swapped in (Len %d)", m.Current().Len())
	}
}

func TestEC2LoadErrorIsFatal(t *testing.T) {
	f, srv := newFakeAWS(t, false)
	f.failKey = "AKIDBASEEXAMPLE00001"
	m, err := NewManager(Config{
		Regions:     []string{"us-east-1"},
		EC2Endpoint: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBASEEXAMPLE00001", "base-secret", ""),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ec2Opts = []func(*ec2.Options){fastRetries}
	err = m.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") || !strings.Contains(err.Error(), "us-east-1") {
		t.Fatalf("Load error = %v, want UnauthorizedOperation naming the region", err)
	}
}
