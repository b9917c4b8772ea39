package ledger

import "fmt"

// Account names. Accounts are created on demand, the first time a
// transfer names them.
const (
	// Lightning is the node: money in and out. It is the only account
	// allowed below zero (its balance is minus what the node holds for us).
	Lightning = "lightning"
	// RoutingFees collects what payouts paid the network in fees.
	RoutingFees = "lightning/routing-fees"
	// PlatformFees collects the operator's fee.
	PlatformFees = "platform/fees"
)

// OfferingRunway holds what was paid for an offering and not yet consumed.
func OfferingRunway(offeringID int64) string { return fmt.Sprintf("offering/%d/runway", offeringID) }

// OfferingEarned holds what was consumed and is owed to the owner.
func OfferingEarned(offeringID int64) string { return fmt.Sprintf("offering/%d/earned", offeringID) }

// OfferingEscrow holds sponsor bids awaiting clearing.
func OfferingEscrow(offeringID int64) string { return fmt.Sprintf("offering/%d/escrow", offeringID) }

// InvestmentPayable holds the returns owed to one investment.
func InvestmentPayable(investmentID int64) string {
	return fmt.Sprintf("investment/%d/payable", investmentID)
}

// BidRefund holds what is owed back to one sponsor bid.
func BidRefund(bidID int64) string { return fmt.Sprintf("bid/%d/refund", bidID) }

func allowNegative(name string) bool { return name == Lightning }
