/**
 * The VPC of the design: public, private and database subnets with the topology's exact CIDRs,
 * one NAT gateway per AZ and a gateway endpoint for S3.
 */
import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';

/** Subnet group names; `subnetGroupName` selections elsewhere use the same names. */
export const SUBNET_GROUP = { public: 'Public', private: 'Private', database: 'Database' } as const;
type SubnetGroupName = (typeof SUBNET_GROUP)[keyof typeof SUBNET_GROUP];

export interface NetworkOptions {
  topology: Topology;
  /**
   * NAT gateways (and their Elastic IPs) give the private subnets egress. Without them the
   * private subnets are isolated, which is what LocalStack Community can host.
   */
  withNatGateways: boolean;
  /** The isolated subnets Aurora lives in; only needed where Aurora is deployed. */
  withDatabaseSubnets: boolean;
}

export interface Network {
  vpc: ec2.Vpc;
  publicSubnets: ec2.SubnetSelection;
  privateSubnets: ec2.SubnetSelection;
  /** Undefined when the network was built without database subnets. */
  databaseSubnets: ec2.SubnetSelection | undefined;
}

/**
 * Hands the VPC the design's CIDRs. `ec2.Vpc` would otherwise carve consecutive ranges of its own
 * (10.0.0.0/24, 10.0.1.0/24, …), which are not the ones the design documents.
 */
class DesignIpAddresses implements ec2.IIpAddresses {
  readonly #network: Topology['network'];
  readonly #zoneNames: string[];

  constructor(network: Topology['network'], zoneNames: string[]) {
    this.#network = network;
    this.#zoneNames = zoneNames;
  }

  allocateVpcCidr(): ec2.VpcIpamOptions {
    return { cidrBlock: this.#network.vpcCidr };
  }

  allocateSubnetsCidr(request: ec2.AllocateCidrRequest): ec2.SubnetIpamOptions {
    return { allocatedSubnets: request.requestedSubnets.map((subnet) => ({ cidr: this.#cidrOf(subnet) })) };
  }

  #cidrOf(subnet: ec2.RequestedSubnet): string {
    const cidrs = cidrsOfGroup(this.#network, subnet.configuration.name as SubnetGroupName);
    const zoneIndex = this.#zoneNames.indexOf(subnet.availabilityZone);
    const cidr = cidrs[zoneIndex];
    if (cidr === undefined) {
      throw new Error(
        `no CIDR in the topology for subnet group ${subnet.configuration.name} in ${subnet.availabilityZone}`,
      );
    }
    return cidr;
  }
}

function cidrsOfGroup(network: Topology['network'], group: SubnetGroupName): string[] {
  switch (group) {
    case SUBNET_GROUP.public:
      return network.publicSubnetCidrs;
    case SUBNET_GROUP.private:
      return network.privateSubnetCidrs;
    case SUBNET_GROUP.database:
      return network.databaseSubnetCidrs;
  }
}

/** The number of NAT gateways the design asks for; `ec2.Vpc` hosts at most one per public subnet. */
export function natGatewayCount(topology: Topology): number {
  const perAz = topology.network.natGatewaysPerAz;
  if (perAz > 1) {
    throw new Error(`topology.network.natGatewaysPerAz is ${perAz}: a VPC here hosts at most one per AZ`);
  }
  return perAz * topology.availabilityZones.length;
}

export function createNetwork(scope: Construct, options: NetworkOptions): Network {
  const { topology, withNatGateways, withDatabaseSubnets } = options;
  const zoneNames = topology.availabilityZones.map((zone) => zone.name);
  const subnetConfiguration: ec2.SubnetConfiguration[] = [
    { name: SUBNET_GROUP.public, subnetType: ec2.SubnetType.PUBLIC },
    {
      name: SUBNET_GROUP.private,
      subnetType: withNatGateways ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
    },
  ];
  if (withDatabaseSubnets) {
    subnetConfiguration.push({ name: SUBNET_GROUP.database, subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
  }
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    ipAddresses: new DesignIpAddresses(topology.network, zoneNames),
    availabilityZones: zoneNames,
    natGateways: withNatGateways ? natGatewayCount(topology) : 0,
    subnetConfiguration,
    // Instances fetch the app build and the frontend is uploaded without crossing the NAT.
    gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
  });
  Validations.of(vpc).acknowledge({
    id: 'CloudFormation-Validate::W3010',
    reason:
      "The design pins its two zones (topology.availabilityZones), so synth needs no lookup and the subnets keep the design's CIDRs per zone.",
  });
  return {
    vpc,
    publicSubnets: { subnetGroupName: SUBNET_GROUP.public },
    privateSubnets: { subnetGroupName: SUBNET_GROUP.private },
    databaseSubnets: withDatabaseSubnets ? { subnetGroupName: SUBNET_GROUP.database } : undefined,
  };
}
