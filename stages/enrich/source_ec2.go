package enrich

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"flowlake/stages/awslog"
)

// ec2API is the part of the EC2 client the source uses.
type ec2API interface {
	ec2.DescribeNetworkInterfacesAPIClient
	ec2.DescribeSubnetsAPIClient
}

// ec2Target is one (account role, region) pair to describe.
type ec2Target struct {
	region  string
	roleARN string // empty: the base credentials
	client  ec2API
}

func (t ec2Target) String() string {
	if t.roleARN == "" {
		return t.region
	}
	return t.roleARN + "@" + t.region
}

// ec2PageSize is the MaxResults of each Describe call (the API maximum).
const ec2PageSize = 1000

// ec2Parallelism bounds concurrent targets during a refresh.
const ec2Parallelism = 4

// ec2MaxAttempts is the SDK's attempt limit per call (its default is 3).
const ec2MaxAttempts = 8

// newEC2Targets builds a client per region, per role when roles are given.
// It does no network I/O: credentials resolve on first use.
func newEC2Targets(ctx context.Context, cfg Config, extra ...func(*ec2.Options)) ([]ec2Target, error) {
	var targets []ec2Target
	roles := cfg.RoleARNs
	if len(roles) == 0 {
		roles = []string{""}
	}
	for _, region := range cfg.Regions {
		opts := []func(*config.LoadOptions) error{
			config.WithRegion(region),
			// A background refresh can afford patience with throttling
			// (RequestLimitExceeded) on accounts with many pages.
			config.WithRetryMaxAttempts(ec2MaxAttempts),
		}
		if cfg.Credentials != nil {
			opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
		}
		opts = append(opts, config.WithLogger(awslog.New(nil)))
		base, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("load AWS config for region %s: %w", region, err)
		}
		for _, role := range roles {
			awsCfg := base.Copy()
			if role != "" {
				stsClient := sts.NewFromConfig(base, func(o *sts.Options) {
					if cfg.STSEndpoint != "" {
						o.BaseEndpoint = aws.String(cfg.STSEndpoint)
					}
					if cfg.HTTPClient != nil {
						o.HTTPClient = cfg.HTTPClient
					}
				})
				awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, role, func(o *stscreds.AssumeRoleOptions) {
					o.RoleSessionName = "flowlake-enrich"
				}))
			}
			client := ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
				if cfg.EC2Endpoint != "" {
					o.BaseEndpoint = aws.String(cfg.EC2Endpoint)
				}
				if cfg.HTTPClient != nil {
					// Set on the client rather than through config.WithHTTPClient,
					// which refuses a plain *http.Client when a CA bundle
					// (AWS_CA_BUNDLE) is configured.
					o.HTTPClient = cfg.HTTPClient
				}
				for _, fn := range extra {
					fn(o)
				}
			})
			targets = append(targets, ec2Target{region: region, roleARN: role, client: client})
		}
	}
	return targets, nil
}

// fetchEC2 describes every target, at most ec2Parallelism at a time. It
// returns one snapshot per target, in target order; a target that failed has
// a nil snapshot and its error joined into err.
func fetchEC2(ctx context.Context, targets []ec2Target, tagKeys []string) ([]*snapshot, error) {
	snaps := make([]*snapshot, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, ec2Parallelism)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("describe %s: %w", t, ctx.Err())
				return
			}
			defer func() { <-sem }()
			snaps[i], errs[i] = fetchTarget(ctx, t, tagKeys)
		}()
	}
	wg.Wait()
	return snaps, errors.Join(errs...)
}

// fetchTarget pages through DescribeNetworkInterfaces and DescribeSubnets.
func fetchTarget(ctx context.Context, t ec2Target, tagKeys []string) (*snapshot, error) {
	b := newBuilder(tagKeys)
	ifaces := ec2.NewDescribeNetworkInterfacesPaginator(t.client, &ec2.DescribeNetworkInterfacesInput{
		MaxResults: aws.Int32(ec2PageSize),
		// Flow logs cover AWS-managed interfaces too; include them.
		IncludeManagedResources: aws.Bool(true),
	})
	var r rawInterface
	for page := 0; ifaces.HasMorePages(); page++ {
		out, err := ifaces.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe network interfaces in %s (page %d): %w", t, page, err)
		}
		for i := range out.NetworkInterfaces {
			fromSDKInterface(&r, &out.NetworkInterfaces[i])
			if err := b.addInterface(&r, t.region); err != nil {
				return nil, fmt.Errorf("describe network interfaces in %s (page %d, item %d): %w", t, page, i, err)
			}
		}
	}
	subnets := ec2.NewDescribeSubnetsPaginator(t.client, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(ec2PageSize)})
	var s rawSubnet
	for page := 0; subnets.HasMorePages(); page++ {
		out, err := subnets.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe subnets in %s (page %d): %w", t, page, err)
		}
		for i := range out.Subnets {
			fromSDKSubnet(&s, &out.Subnets[i])
			if err := b.addSubnet(&s, t.region); err != nil {
				return nil, fmt.Errorf("describe subnets in %s (page %d, item %d): %w", t, page, i, err)
			}
		}
	}
	return b.snapshot(), nil
}

// fromSDKInterface fills r from an SDK value, reusing r's slices.
func fromSDKInterface(r *rawInterface, n *types.NetworkInterface) {
	*r = rawInterface{
		NetworkInterfaceID: aws.ToString(n.NetworkInterfaceId),
		OwnerID:            aws.ToString(n.OwnerId),
		VpcID:              aws.ToString(n.VpcId),
		SubnetID:           aws.ToString(n.SubnetId),
		AvailabilityZone:   aws.ToString(n.AvailabilityZone),
		AvailabilityZoneID: aws.ToString(n.AvailabilityZoneId),
		InterfaceType:      string(n.InterfaceType),
		Description:        aws.ToString(n.Description),
		RequesterID:        aws.ToString(n.RequesterId),
		RequesterManaged:   aws.ToBool(n.RequesterManaged),
		PrivateIPAddress:   aws.ToString(n.PrivateIpAddress),
		IPv6Address:        aws.ToString(n.Ipv6Address),
		Groups:             r.Groups[:0],
		TagSet:             r.TagSet[:0],
		PrivateIPAddresses: r.PrivateIPAddresses[:0],
		IPv6Addresses:      r.IPv6Addresses[:0],
	}
	if n.Attachment != nil {
		r.Attachment = &rawAttachment{InstanceID: aws.ToString(n.Attachment.InstanceId)}
	}
	for _, g := range n.Groups {
		r.Groups = append(r.Groups, rawGroup{GroupID: aws.ToString(g.GroupId)})
	}
	for _, t := range n.TagSet {
		r.TagSet = append(r.TagSet, rawTag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
	}
	for _, p := range n.PrivateIpAddresses {
		r.PrivateIPAddresses = append(r.PrivateIPAddresses, rawPrivateIP{PrivateIPAddress: aws.ToString(p.PrivateIpAddress)})
	}
	for _, p := range n.Ipv6Addresses {
		r.IPv6Addresses = append(r.IPv6Addresses, rawIPv6Addr{IPv6Address: aws.ToString(p.Ipv6Address)})
	}
}

// fromSDKSubnet fills r from an SDK value, reusing r's slices.
func fromSDKSubnet(r *rawSubnet, s *types.Subnet) {
	*r = rawSubnet{
		SubnetID:           aws.ToString(s.SubnetId),
		VpcID:              aws.ToString(s.VpcId),
		CidrBlock:          aws.ToString(s.CidrBlock),
		AvailabilityZone:   aws.ToString(s.AvailabilityZone),
		AvailabilityZoneID: aws.ToString(s.AvailabilityZoneId),
		OwnerID:            aws.ToString(s.OwnerId),
		IPv6Associations:   r.IPv6Associations[:0],
	}
	for _, a := range s.Ipv6CidrBlockAssociationSet {
		item := rawIPv6CIDRItem{IPv6CidrBlock: aws.ToString(a.Ipv6CidrBlock)}
		if a.Ipv6CidrBlockState != nil {
			item.State = &rawCIDRState{State: string(a.Ipv6CidrBlockState.State)}
		}
		r.IPv6Associations = append(r.IPv6Associations, item)
	}
}
