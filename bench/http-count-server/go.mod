module podspan.bench/http-count-server

go 1.22
