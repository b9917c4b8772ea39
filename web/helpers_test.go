package web_test

import "github.com/keepalive/keepalive/internal/money"

func moneyMsat(n int64) money.Msat { return money.Msat(n) }
