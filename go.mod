module github.com/wxlogin/wxlogin

go 1.26

require (
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
)
